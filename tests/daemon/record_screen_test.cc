// record_screen_test.cc — tests for daemon/tls/record_screen.cc: record lengths followed across
// arbitrary splits of the byte stream, the limit applied to each header, SSLv2 left to mbedTLS.
#include "daemon/tls/record_screen.h"

#include <doctest/doctest.h>

#include <vector>

namespace {

using provisiond::tls::RecordScreen;

std::vector<unsigned char> Record(unsigned char type, size_t length) {
  std::vector<unsigned char> r = {type, 0x03, 0x03, static_cast<unsigned char>(length >> 8),
                                  static_cast<unsigned char>(length & 0xff)};
  r.resize(5 + length, 0xab);
  return r;
}

// Feeds `stream` in pieces of `piece` bytes; false as soon as the screen refuses.
bool FeedInPieces(RecordScreen& screen, const std::vector<unsigned char>& stream, size_t piece,
                  size_t limit) {
  for (size_t i = 0; i < stream.size(); i += piece) {
    const size_t n = std::min(piece, stream.size() - i);
    if (!screen.Feed(std::span(stream.data() + i, n), limit)) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("RecordScreen: records at the limit pass, one byte over is refused, in any split") {
  for (size_t piece : {size_t{1}, size_t{3}, size_t{5}, size_t{7}, size_t{4096}, size_t{70000}}) {
    CAPTURE(piece);
    auto ok = Record(22, 100);
    auto at_limit = Record(23, RecordScreen::kMaxTls13Ciphertext);
    ok.insert(ok.end(), at_limit.begin(), at_limit.end());
    RecordScreen pass;
    CHECK(FeedInPieces(pass, ok, piece, RecordScreen::kMaxTls13Ciphertext));

    auto over = Record(22, 100);
    auto big = Record(23, RecordScreen::kMaxTls13Ciphertext + 1);
    over.insert(over.end(), big.begin(), big.end());
    RecordScreen refuse;
    CHECK_FALSE(FeedInPieces(refuse, over, piece, RecordScreen::kMaxTls13Ciphertext));
    CHECK(refuse.last_length() == RecordScreen::kMaxTls13Ciphertext + 1);
  }
}

TEST_CASE("RecordScreen: a record body is never read as a header") {
  // A body full of 0xff bytes would announce 65535-byte records if it were taken for headers.
  auto stream = Record(22, 300);
  std::fill(stream.begin() + 5, stream.end(), 0xff);
  auto next = Record(22, 10);
  stream.insert(stream.end(), next.begin(), next.end());
  RecordScreen screen;
  CHECK(FeedInPieces(screen, stream, 2, RecordScreen::kMaxPlaintext));
  CHECK(screen.last_length() == 10);
}

TEST_CASE("RecordScreen: an SSLv2-format first record is left to mbedTLS") {
  const std::vector<unsigned char> v2 = {0x80, 0x03, 0x01, 0x03, 0x03};
  RecordScreen screen;
  CHECK(screen.Feed(v2, RecordScreen::kMaxPlaintext));
  // Off for the rest of the connection: mbedTLS refuses the record and the connection ends.
  auto big = Record(22, 20000);
  CHECK(screen.Feed(big, RecordScreen::kMaxPlaintext));
}

TEST_CASE("RecordScreen: a record is complete only once its header and whole body have passed") {
  for (size_t piece : {size_t{1}, size_t{4}, size_t{6}, size_t{4096}}) {
    CAPTURE(piece);
    const auto hello = Record(22, 200);
    RecordScreen screen;
    CHECK_FALSE(screen.record_complete());
    // One byte, a header, the header and all but one byte of the body: a fragment.
    for (size_t upto : {size_t{1}, size_t{5}, hello.size() - 1}) {
      RecordScreen partial;
      std::vector<unsigned char> head(hello.begin(), hello.begin() + upto);
      REQUIRE(FeedInPieces(partial, head, piece, RecordScreen::kMaxPlaintext));
      CHECK_FALSE(partial.record_complete());
    }
    REQUIRE(FeedInPieces(screen, hello, piece, RecordScreen::kMaxPlaintext));
    CHECK(screen.record_complete());
  }
  RecordScreen empty;  // a zero-length record is whole once its header is
  REQUIRE(empty.Feed(Record(22, 0), RecordScreen::kMaxPlaintext));
  CHECK(empty.record_complete());
}
