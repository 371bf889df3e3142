// serverkeygen_reply_test.cc — the RFC 7030 §4.4.2 multipart/mixed reply: its content type, the two
// parts with their headers in order, base64 that decodes to the key and the PKCS#7, the closing
// delimiter, and boundaries that could collide with a base64 line refused.
#include "daemon/est/serverkeygen_reply.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "ca/encoding.h"

using provisiond::est::BuildServerKeygenReply;

namespace {

// The text between `from` and the next `to` in `s`, starting at *at (moved past `to`).
std::string Between(const std::string& s, size_t* at, const std::string& to) {
  const size_t end = s.find(to, *at);
  REQUIRE(end != std::string::npos);
  std::string out = s.substr(*at, end - *at);
  *at = end + to.size();
  return out;
}

}  // namespace

TEST_CASE("the serverkeygen reply is multipart/mixed: the PKCS#8 key, then the certs-only PKCS#7") {
  auto key = base::SecretBuffer::Create(200);
  REQUIRE(key.has_value());
  const std::string key_bytes(138, '\x41');
  REQUIRE(key->Append(key_bytes));
  const base::Bytes pkcs7(700, 0x30);
  auto reply = BuildServerKeygenReply(*key, pkcs7, "est-serverkeygen_0a1b");
  REQUIRE(reply.has_value());
  CHECK(reply->content_type == "multipart/mixed; boundary=est-serverkeygen_0a1b");
  const std::string body(reply->body.view());
  size_t at = 0;
  CHECK(Between(body, &at, "\r\n") == "--est-serverkeygen_0a1b");
  CHECK(Between(body, &at, "\r\n") == "Content-Type: application/pkcs8");
  CHECK(Between(body, &at, "\r\n") == "Content-Transfer-Encoding: base64");
  CHECK(Between(body, &at, "\r\n") == "");
  auto decoded_key = ca::Base64Decode(Between(body, &at, "--est-serverkeygen_0a1b\r\n"), 4096);
  REQUIRE(decoded_key.has_value());
  CHECK(std::string(decoded_key->begin(), decoded_key->end()) == key_bytes);
  CHECK(Between(body, &at, "\r\n") ==
        "Content-Type: application/pkcs7-mime; smime-type=certs-only");
  CHECK(Between(body, &at, "\r\n") == "Content-Transfer-Encoding: base64");
  CHECK(Between(body, &at, "\r\n") == "");
  auto decoded_cert = ca::Base64Decode(Between(body, &at, "--est-serverkeygen_0a1b--\r\n"), 4096);
  REQUIRE(decoded_cert.has_value());
  CHECK(*decoded_cert == pkcs7);
  CHECK(at == body.size());  // nothing after the closing delimiter
}

TEST_CASE("the serverkeygen reply refuses a boundary a base64 line could equal, and empty parts") {
  auto key = base::SecretBuffer::Create(16);
  REQUIRE(key.has_value());
  REQUIRE(key->Append("k"));
  const base::Bytes pkcs7{0x30, 0x00};
  CHECK_FALSE(BuildServerKeygenReply(*key, pkcs7, "abcDEF0123").has_value());  // base64 only
  CHECK_FALSE(BuildServerKeygenReply(*key, pkcs7, "").has_value());
  CHECK_FALSE(BuildServerKeygenReply(*key, pkcs7, std::string(71, '_')).has_value());
  CHECK_FALSE(BuildServerKeygenReply(*key, pkcs7, "has space_").has_value());
  CHECK_FALSE(BuildServerKeygenReply(*key, {}, "b_").has_value());
  auto empty = base::SecretBuffer::Create(16);
  REQUIRE(empty.has_value());
  CHECK_FALSE(BuildServerKeygenReply(*empty, pkcs7, "b_").has_value());
  CHECK(BuildServerKeygenReply(*key, pkcs7, "b_").has_value());
}
