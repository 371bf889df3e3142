// issuer_resume_test.cc — Issuer::CheckPrepared: a stored TBS (an intent about to be resumed) is
// signed only if it is byte for byte what Prepare builds for the authenticated device, the CSR's
// key and the profile, with its own serial, at a recent moment.
#include <doctest/doctest.h>

#include "ca/issuer.h"
#include "ca/tbs.h"
#include "tests/ca/tbs_test_util.h"
#include "tests/ca/test_util.h"

namespace {

using catest::kDay;
using catest::kNow;

constexpr base::UnixTime kMaxAge = 7 * kDay;

// "" when CheckPrepared accepts, else its error detail.
std::string Check(catest::IssuerFixture& f, const base::Bytes& tbs, std::string_view id = "dev-1",
                  const ca::Profile& profile = {}, base::UnixTime now = kNow + 60) {
  auto ok = f.issuer->CheckPrepared(tbs, id, f.device_spki, profile, now, kMaxAge);
  if (ok) return "";
  CHECK(ok.error().code == ca::Code::kPolicy);
  return ok.error().detail;
}

base::Bytes SerialOf(const base::Bytes& tbs) {
  auto parsed = ca::ParseTbs(tbs);
  REQUIRE(parsed.has_value());
  const mbedtls_x509_buf& s = (*parsed)->get()->serial;
  return base::Bytes(s.p, s.p + s.len);
}

}  // namespace

TEST_CASE("CheckPrepared accepts the TBS Prepare built for this device, key and profile") {
  catest::IssuerFixture f("resume-same");
  ca::Profile profile;
  profile.organization = "Acme";
  CHECK(Check(f, f.Prepare("dev-1", profile).tbs, "dev-1", profile) == "");
  CHECK(Check(f, f.Prepare("a+b=c").tbs, "a+b=c") == "");
  // notBefore clamped to the CA's (the CA is valid from kNow - 1 day): the build time is read
  // from notAfter instead.
  const base::UnixTime early = kNow - kDay + 100;
  CHECK(Check(f, f.Prepare("dev-1", {}, early).tbs, "dev-1", {}, early + 10) == "");
  // notAfter clamped to the CA's (which ends at kNow + 30 days).
  catest::IssuerFixture g("resume-short-ca", kNow + 30 * kDay);
  CHECK(Check(g, g.Prepare().tbs) == "");
  // Built by SignCertificate from the same fields: the same bytes, so accepted too.
  const base::Bytes serial = SerialOf(f.Prepare().tbs);
  CHECK(Check(f, catest::TbsOf(f.SignWithCa(f.ProfileSpec(serial), *f.device_key->pk()))) == "");
}

TEST_CASE("CheckPrepared refuses a TBS naming another device (the planted intent of issue #12)") {
  catest::IssuerFixture f("resume-subject");
  CHECK(Check(f, f.Prepare("dev-b").tbs, "dev-1").starts_with("subject: CN=dev-b, want CN=dev-1"));
  ca::Profile org;
  org.organization = "Other";
  CHECK(Check(f, f.Prepare("dev-1", org).tbs).starts_with("subject: "));
}

TEST_CASE("CheckPrepared refuses another SAN, another key, another issuer") {
  catest::IssuerFixture f("resume-fields");
  ca::Profile evil;
  evil.san_uri_prefix = "urn:evil:";
  CHECK(Check(f, f.Prepare("dev-1", evil).tbs) ==
        "subjectAltName: URI:urn:evil:dev-1, want URI:urn:provisiond:device:dev-1");

  auto other_key = catest::NewP256(f.drbg->rng());
  auto other = f.issuer->Prepare("dev-1", catest::PublicDer(*other_key->pk()), {}, kNow,
                                 f.drbg->rng());
  REQUIRE(other.has_value());
  CHECK(Check(f, other->tbs) == "public key: not the CSR's key");

  // Another CA's operational TBS for this device and key: other issuer (and AKI).
  catest::IssuerFixture g("resume-other-ca", kNow + 3650 * kDay, "CN=Other CA");
  auto foreign = g.issuer->Prepare("dev-1", f.device_spki, {}, kNow, g.drbg->rng());
  REQUIRE(foreign.has_value());
  CHECK(Check(f, foreign->tbs).starts_with("issuer: CN=Other CA, want CN=Test Root CA"));
  // Same subject, another CA key: only the authorityKeyIdentifier tells them apart.
  catest::IssuerFixture h("resume-twin-ca");
  auto twin = h.issuer->Prepare("dev-1", f.device_spki, {}, kNow, h.drbg->rng());
  REQUIRE(twin.has_value());
  CHECK(Check(f, twin->tbs) == "extensions: not the profile's");
}

TEST_CASE("CheckPrepared refuses a validity the profile does not give") {
  catest::IssuerFixture f("resume-validity");
  const base::Bytes serial = SerialOf(f.Prepare().tbs);
  ca::CertSpec spec = f.ProfileSpec(serial);
  spec.not_after = 2113776000;  // 2036-12-25: the planted intent's notAfter
  const std::string why = Check(f, catest::TbsOf(f.SignWithCa(spec, *f.device_key->pk())));
  CHECK(why.starts_with("validity: 2026-04-30T23:55:00Z..2036-12-25T00:00:00Z, want "));
  spec = f.ProfileSpec(serial);
  spec.not_before = kNow - 3600;  // backdated more than the profile's 300 s
  CHECK(Check(f, catest::TbsOf(f.SignWithCa(spec, *f.device_key->pk()))).starts_with("validity: "));
  // The profile changed since the intent was written: refused, not silently re-issued.
  ca::Profile longer;
  longer.validity_seconds = 365 * kDay;
  CHECK(Check(f, f.Prepare().tbs, "dev-1", longer).starts_with("validity: "));
  CHECK(Check(f, base::Bytes{0x30, 0x00}).starts_with("structure: "));
}

TEST_CASE("CheckPrepared refuses an intent built too long ago or in the future") {
  catest::IssuerFixture f("resume-age");
  CHECK(Check(f, f.Prepare("dev-1", {}, kNow - 6 * kDay).tbs, "dev-1", {}, kNow) == "");
  CHECK(Check(f, f.Prepare("dev-1", {}, kNow - 8 * kDay).tbs, "dev-1", {}, kNow)
            .starts_with("age: built at 2026-04-23T00:00:00Z, more than 604800 s before "));
  CHECK(Check(f, f.Prepare("dev-1", {}, kNow + 200).tbs, "dev-1", {}, kNow) == "");
  CHECK(Check(f, f.Prepare("dev-1", {}, kNow + 3600).tbs, "dev-1", {}, kNow)
            .starts_with("age: built at 2026-05-01T01:00:00Z, after now "));
}
