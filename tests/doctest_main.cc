// doctest_main.cc — doctest's implementation, compiled once (the test_main object library) for
// every unit binary instead of once per binary: it costs as much to compile as a test file.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
