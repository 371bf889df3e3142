// main.cc — doctest entry point for the unit-test binaries; initialises PSA once, as main() does.
// doctest's implementation is in doctest_main.cc (linked into every unit binary by test_main).
#include <doctest/doctest.h>
#include <psa/crypto.h>

int main(int argc, char** argv) {
  if (psa_crypto_init() != PSA_SUCCESS) return 1;
  doctest::Context context(argc, argv);
  return context.run();
}
