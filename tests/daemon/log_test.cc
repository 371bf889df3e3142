// log_test.cc — log values can never forge a line or a field.
#include "daemon/log.h"

#include <doctest/doctest.h>

using provisiond::EscapeLogValue;

TEST_CASE("plain values stay bare") {
  CHECK(EscapeLogValue("dev-00001") == "dev-00001");
  CHECK(EscapeLogValue("127.0.0.1:443") == "127.0.0.1:443");
}

TEST_CASE("spaces, quotes, equals and control characters are quoted and escaped") {
  CHECK(EscapeLogValue("") == "\"\"");
  CHECK(EscapeLogValue("CN=dev 1") == "\"CN=dev 1\"");
  CHECK(EscapeLogValue("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(EscapeLogValue("evil\r\n<3>forged line") == "\"evil\\r\\n<3>forged line\"");
  CHECK(EscapeLogValue(std::string("esc\x1b[31m", 8)) == "\"esc\\x1b[31m\"");
  CHECK(EscapeLogValue("\xc3\xa9") == "\"\\xc3\\xa9\"");
  // Whatever the input, the escaped form holds no byte below 0x20.
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  for (unsigned char c : EscapeLogValue(all)) CHECK(c >= 0x20);
}

TEST_CASE("log level names round-trip") {
  using provisiond::Priority;
  for (Priority p : {Priority::kErr, Priority::kWarning, Priority::kNotice, Priority::kInfo,
                     Priority::kDebug}) {
    CHECK(provisiond::ParseLogLevel(provisiond::LogLevelName(p)) == p);
  }
  CHECK_FALSE(provisiond::ParseLogLevel("verbose").has_value());
  CHECK_FALSE(provisiond::ParseLogLevel("").has_value());
}

TEST_CASE("JOURNAL_STREAM must name stderr's device and inode exactly") {
  using provisiond::MatchesJournalStream;
  CHECK(MatchesJournalStream("8:12345", 8, 12345));
  CHECK_FALSE(MatchesJournalStream(nullptr, 8, 12345));
  CHECK_FALSE(MatchesJournalStream("", 8, 12345));
  CHECK_FALSE(MatchesJournalStream("8:12346", 8, 12345));
  CHECK_FALSE(MatchesJournalStream("9:12345", 8, 12345));
  CHECK_FALSE(MatchesJournalStream("8:12345x", 8, 12345));
  CHECK_FALSE(MatchesJournalStream("8", 8, 12345));
}
