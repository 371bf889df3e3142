// client_chain_test.cc — the TLS 1.2 client-chain screen (issue #12): record and handshake
// framing with every length checked, decisions before mbedTLS would see the whole message.
#include "daemon/tls/client_chain.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace {

using provisiond::tls::Tls12ChainScreen;
using Bytes = std::vector<unsigned char>;
using Verdict = Tls12ChainScreen::Verdict;

void Put24(Bytes& out, size_t n) {
  out.push_back(static_cast<unsigned char>(n >> 16));
  out.push_back(static_cast<unsigned char>(n >> 8));
  out.push_back(static_cast<unsigned char>(n));
}

// A Certificate handshake message holding `certs` (their bytes are not parsed unless the count
// and sizes are within the limits).
Bytes CertificateMessage(const std::vector<Bytes>& certs) {
  Bytes list;
  for (const auto& c : certs) {
    Put24(list, c.size());
    list.insert(list.end(), c.begin(), c.end());
  }
  Bytes msg = {11};
  Put24(msg, list.size() + 3);
  Put24(msg, list.size());
  msg.insert(msg.end(), list.begin(), list.end());
  return msg;
}

Bytes Record(unsigned char type, const Bytes& body) {
  Bytes r = {type, 3, 3, static_cast<unsigned char>(body.size() >> 8),
             static_cast<unsigned char>(body.size())};
  r.insert(r.end(), body.begin(), body.end());
  return r;
}

Verdict FeedBytewise(Tls12ChainScreen& s, const Bytes& b) {
  Verdict v = Verdict::kMore;
  for (unsigned char c : b) v = s.Feed(std::span(&c, 1));
  return v;
}

}  // namespace

TEST_CASE("Tls12ChainScreen: an empty list passes; another handshake message passes") {
  Tls12ChainScreen empty;
  CHECK(empty.Feed(Record(22, CertificateMessage({}))) == Verdict::kPass);
  Tls12ChainScreen other;
  CHECK(other.Feed(Record(22, Bytes{16, 0, 0, 1, 0})) == Verdict::kPass);  // ClientKeyExchange
}

TEST_CASE("Tls12ChainScreen: too many certificates, refused whatever the framing") {
  Bytes junk(50, 0x30);
  Bytes msg = CertificateMessage({junk, junk, junk, junk, junk});
  Tls12ChainScreen whole;
  CHECK(whole.Feed(Record(22, msg)) == Verdict::kRefuse);
  CHECK(whole.alert() == MBEDTLS_SSL_ALERT_MSG_BAD_CERT);
  CHECK(whole.reason().find("more than 4 certificates") != std::string::npos);
  // The same message split over three records, after a ChangeCipherSpec-type record, bytewise.
  Bytes stream = Record(20, Bytes{1});
  for (auto r : {Record(22, Bytes(msg.begin(), msg.begin() + 7)),
                 Record(22, Bytes(msg.begin() + 7, msg.begin() + 100)),
                 Record(22, Bytes(msg.begin() + 100, msg.end()))}) {
    stream.insert(stream.end(), r.begin(), r.end());
  }
  Tls12ChainScreen split;
  CHECK(FeedBytewise(split, stream) == Verdict::kRefuse);
  CHECK(split.reason() == whole.reason());
}

TEST_CASE("Tls12ChainScreen: an oversized message is refused from its header alone") {
  Bytes header = {22, 3, 3, 0x40, 0x00, 11, 0x01, 0x00, 0x00};  // a 64 KiB Certificate message
  Tls12ChainScreen s;
  CHECK(s.Feed(header) == Verdict::kRefuse);
  CHECK(s.alert() == MBEDTLS_SSL_ALERT_MSG_BAD_CERT);
  Tls12ChainScreen big_record;
  CHECK(big_record.Feed(Bytes{22, 3, 3, 0x48, 0x01}) == Verdict::kRefuse);  // > 16 KiB record
  CHECK(big_record.alert() == MBEDTLS_SSL_ALERT_MSG_DECODE_ERROR);
}

TEST_CASE("Tls12ChainScreen: malformed lists and a certificate over 4 KiB") {
  int alert = 0;
  const auto& limits = ca::kClientChainLimits;
  Bytes bad_total = {0, 0, 9, 0, 0, 2, 0x30, 0x00};  // list length 9, 5 bytes follow
  CHECK(!provisiond::tls::ScreenTls12CertificateBody(bad_total, limits, &alert).empty());
  Bytes bad_entry = {0, 0, 5, 0, 0, 9, 0x30, 0x00};  // entry length 9, 2 bytes follow
  CHECK(!provisiond::tls::ScreenTls12CertificateBody(bad_entry, limits, &alert).empty());
  Bytes zero_entry = {0, 0, 3, 0, 0, 0};
  CHECK(!provisiond::tls::ScreenTls12CertificateBody(zero_entry, limits, &alert).empty());
  CHECK(alert == MBEDTLS_SSL_ALERT_MSG_BAD_CERT);
  Tls12ChainScreen s;
  Bytes msg = CertificateMessage({Bytes(4097, 0x30)});
  CHECK(s.Feed(Record(22, msg)) == Verdict::kRefuse);
  CHECK(s.reason().find("4097 bytes") != std::string::npos);
  // Not a certificate at all: refused as malformed by the parser, still bad_certificate.
  Tls12ChainScreen garbage;
  CHECK(garbage.Feed(Record(22, CertificateMessage({Bytes(100, 0x30)}))) == Verdict::kRefuse);
  CHECK(garbage.alert() == MBEDTLS_SSL_ALERT_MSG_BAD_CERT);
}
