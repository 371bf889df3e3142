// audit_checkpoint_test.cc — tests ca/audit_checkpoint.cc: a signed checkpoint reads back as
// written; an edited field, another CA's signature, a truncated or extended file are refused.
#include "ca/audit_checkpoint.h"

#include <doctest/doctest.h>

#include <string>

#include "tests/ca/test_util.h"

namespace {

struct Fixture {
  std::unique_ptr<ca::Drbg> drbg = catest::MakeDrbg("audit checkpoint tests");
  catest::TestCa ca = catest::MakeCa(drbg->rng());
  std::unique_ptr<ca::CrtChain> ca_crt = catest::Parse(ca.der);
  std::unique_ptr<ca::CaKey> ca_key = catest::FileKey(*ca.key, drbg->rng());
  ca::AuditCheckpoint checkpoint{.id = 2066854,
                                 .row_hash = std::string(63, 'a') + "7",
                                 .rows = 2066854,
                                 .time = "2026-12-07T04:30:00Z"};

  std::string Signed() {
    auto text = ca::SignAuditCheckpoint(checkpoint, *ca_crt->get(), *ca_key, drbg->rng());
    REQUIRE_MESSAGE(text.has_value(), (text ? "" : text.error().detail));
    return *text;
  }
};

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE_FIXTURE(Fixture, "a signed checkpoint verifies and reads back as written") {
  const std::string text = Signed();
  CHECK(text.starts_with("provisiond-audit-checkpoint v1\nid 2066854\nrow_hash aaa"));
  auto read = ca::VerifyAuditCheckpoint(text, *ca_crt->get());
  REQUIRE_MESSAGE(read.has_value(), (read ? "" : read.error().detail));
  CHECK(read->id == checkpoint.id);
  CHECK(read->row_hash == checkpoint.row_hash);
  CHECK(read->rows == checkpoint.rows);
  CHECK(read->time == checkpoint.time);
}

TEST_CASE_FIXTURE(Fixture, "an edited field no longer verifies") {
  const std::string text = Signed();
  for (auto [from, to] : {std::pair{"id 2066854", "id 2066853"},
                          std::pair{"rows 2066854", "rows 2066855"},
                          std::pair{"aaaa7\n", "aaaa8\n"},
                          std::pair{"T04:30:00Z", "T04:30:01Z"}}) {
    CAPTURE(from);
    auto read = ca::VerifyAuditCheckpoint(Replace(text, from, to), *ca_crt->get());
    REQUIRE_FALSE(read.has_value());
    CHECK(read.error().code == ca::Code::kCrypto);
  }
}

TEST_CASE_FIXTURE(Fixture, "a checkpoint signed by another CA key is refused") {
  catest::TestCa other = catest::MakeCa(drbg->rng());
  auto other_key = catest::FileKey(*other.key, drbg->rng());
  auto other_crt = catest::Parse(other.der);
  auto text = ca::SignAuditCheckpoint(checkpoint, *other_crt->get(), *other_key, drbg->rng());
  REQUIRE(text.has_value());
  auto read = ca::VerifyAuditCheckpoint(*text, *ca_crt->get());
  REQUIRE_FALSE(read.has_value());
  CHECK(read.error().code == ca::Code::kCrypto);
  // Signing under a certificate that is not the key's fails before anything is returned.
  CHECK_FALSE(ca::SignAuditCheckpoint(checkpoint, *ca_crt->get(), *other_key, drbg->rng()));
}

TEST_CASE_FIXTURE(Fixture, "anything but the exact form is malformed") {
  const std::string text = Signed();
  const std::string cases[] = {
      "",
      text.substr(0, text.size() - 1),                      // no final newline
      text + "extra\n",                                     // something after the signature
      Replace(text, "provisiond-audit-checkpoint v1", "provisiond-audit-checkpoint v2"),
      Replace(text, "id 2066854", "id 02066854"),           // not canonical decimal
      Replace(text, "id 2066854", "id -1"),
      Replace(text, "id 2066854", "id 0"),
      Replace(text, "rows ", "count "),
      Replace(text, "aaaa7\n", "aaaA7\n"),                  // not lowercase hex
      Replace(text, "T04:30:00Z", "T04:30:00"),
      Replace(text, "signature ", "signature !"),
      std::string(ca::kMaxCheckpointBytes + 1, 'p'),
  };
  for (const std::string& bad : cases) {
    CAPTURE(bad);
    auto read = ca::VerifyAuditCheckpoint(bad, *ca_crt->get());
    REQUIRE_FALSE(read.has_value());
    CHECK(read.error().code == ca::Code::kMalformed);
  }
  ca::AuditCheckpoint zero = checkpoint;
  zero.id = 0;
  CHECK_FALSE(ca::SignAuditCheckpoint(zero, *ca_crt->get(), *ca_key, drbg->rng()));
}
