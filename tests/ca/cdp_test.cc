// cdp_test.cc — tests ca/cdp.cc and the CRL distribution point of the operational profile: the
// extension Prepare writes from Profile::crl_urls, the lint rule over it, and CheckPrepared's
// byte-for-byte rebuild of a TBS that carries it.
#include "ca/cdp.h"

#include <doctest/doctest.h>
#include <mbedtls/oid.h>

#include "ca/issuer.h"
#include "ca/lint.h"
#include "ca/tbs.h"
#include "tests/ca/tbs_test_util.h"
#include "tests/ca/test_util.h"

namespace {

using catest::kDay;
using catest::kNow;

const std::vector<std::string> kUrls = {"http://crl.example.com/crl", "http://127.0.0.1:8081/crl"};

ca::Profile WithUrls(std::vector<std::string> urls) {
  ca::Profile profile;
  profile.crl_urls = std::move(urls);
  return profile;
}

std::unique_ptr<ca::CrtChain> ParsedTbs(const base::Bytes& tbs) {
  auto parsed = ca::ParseTbs(tbs);
  REQUIRE_MESSAGE(parsed.has_value(), (parsed ? "" : parsed.error().detail));
  return std::move(*parsed);
}

std::string LintDetail(const mbedtls_x509_crt& crt, const mbedtls_x509_crt& ca,
                       const std::vector<std::string>* want) {
  auto ok = ca::LintOperational(crt, ca, want);
  return ok ? "" : ok.error().detail;
}

}  // namespace

TEST_CASE("Prepare writes the configured URLs as one non-critical distribution point") {
  catest::IssuerFixture f("cdp-prepare");
  auto tbs = ParsedTbs(f.Prepare("dev-1", WithUrls(kUrls)).tbs);
  auto cdp = ca::ReadCrlDistributionPoints(*tbs->get());
  REQUIRE(cdp.has_value());
  CHECK(cdp->present);
  CHECK_FALSE(cdp->critical);
  CHECK(cdp->urls == kUrls);
  auto ext = catest::FindExtension(*tbs->get(), MBEDTLS_OID_CRL_DISTRIBUTION_POINTS,
                                   MBEDTLS_OID_SIZE(MBEDTLS_OID_CRL_DISTRIBUTION_POINTS));
  REQUIRE(ext.has_value());
  CHECK_FALSE(ext->critical);

  auto none = ca::ReadCrlDistributionPoints(*ParsedTbs(f.Prepare("dev-1").tbs)->get());
  REQUIRE(none.has_value());
  CHECK_FALSE(none->present);
}

TEST_CASE("the lint checks the distribution point against the profile") {
  catest::IssuerFixture f("cdp-lint");
  auto with = ParsedTbs(f.Prepare("dev-1", WithUrls(kUrls)).tbs);
  auto without = ParsedTbs(f.Prepare("dev-1").tbs);
  const mbedtls_x509_crt& ca = f.issuer->ca_cert();
  const std::vector<std::string> none, other = {"http://other.example/crl"};
  CHECK(LintDetail(*with->get(), ca, &kUrls) == "");
  CHECK(LintDetail(*without->get(), ca, &none) == "");
  CHECK(LintDetail(*with->get(), ca, &other) == "cRLDistributionPoints: not the configured URLs");
  const std::vector<std::string> reversed = {kUrls[1], kUrls[0]};
  CHECK(LintDetail(*with->get(), ca, &reversed) ==
        "cRLDistributionPoints: not the configured URLs");
  CHECK(LintDetail(*without->get(), ca, &kUrls) == "cRLDistributionPoints: absent");
  CHECK(LintDetail(*with->get(), ca, &none) == "cRLDistributionPoints: present, none configured");
  // Before signing (Issuer::Sign), whatever profile built the TBS: present or absent, well formed.
  CHECK(LintDetail(*with->get(), ca, nullptr) == "");
  CHECK(LintDetail(*without->get(), ca, nullptr) == "");
}

TEST_CASE("CheckPrepared rebuilds a TBS with a distribution point byte for byte") {
  catest::IssuerFixture f("cdp-resume");
  const ca::Profile profile = WithUrls(kUrls);
  const base::Bytes tbs = f.Prepare("dev-1", profile).tbs;
  CHECK(f.issuer->CheckPrepared(tbs, "dev-1", f.device_spki, profile, kNow + 60, 7 * kDay)
            .has_value());
  // The URLs changed between the interrupted attempt and its retry: refused, naming extensions.
  auto changed = f.issuer->CheckPrepared(tbs, "dev-1", f.device_spki, WithUrls({kUrls[0]}),
                                         kNow + 60, 7 * kDay);
  REQUIRE_FALSE(changed.has_value());
  CHECK(changed.error().detail.starts_with("extensions: "));
  auto dropped = f.issuer->CheckPrepared(tbs, "dev-1", f.device_spki, {}, kNow + 60, 7 * kDay);
  REQUIRE_FALSE(dropped.has_value());
  // And a signed certificate with it verifies and keeps it.
  auto issued = f.issuer->Sign(tbs, f.drbg->rng());
  REQUIRE_MESSAGE(issued.has_value(), (issued ? "" : issued.error().detail));
}

TEST_CASE("EncodeCrlDistributionPoints refuses what a relying party should not fetch") {
  CHECK(ca::EncodeCrlDistributionPoints(kUrls).has_value());
  CHECK_FALSE(ca::EncodeCrlDistributionPoints({}).has_value());
  CHECK_FALSE(ca::EncodeCrlDistributionPoints({"https://crl.example/crl"}).has_value());
  CHECK_FALSE(ca::EncodeCrlDistributionPoints({"http://a b/crl"}).has_value());
  CHECK_FALSE(ca::EncodeCrlDistributionPoints({"http://"}).has_value());
  CHECK_FALSE(ca::EncodeCrlDistributionPoints({"http://x/\xc3\xa9"}).has_value());
  CHECK_FALSE(ca::EncodeCrlDistributionPoints({"http://x/" + std::string(300, 'a')}).has_value());
  std::vector<std::string> five(5, "http://x/crl");
  CHECK_FALSE(ca::EncodeCrlDistributionPoints(five).has_value());
  // The DER: SEQUENCE { SEQUENCE { [0] { [0] { [6] "http://x/crl" } } } }.
  auto der = ca::EncodeCrlDistributionPoints({"http://x/crl"});
  REQUIRE(der.has_value());
  const base::Bytes want = {0x30, 0x14, 0x30, 0x12, 0xa0, 0x10, 0xa0, 0x0e, 0x86, 0x0c, 'h',
                            't',  't',  'p',  ':',  '/',  '/',  'x',  '/',  'c',  'r',  'l'};
  CHECK(*der == want);
}

TEST_CASE("CrlUrlForGeneration keeps generation 1's URL and marks later ones") {
  CHECK(ca::CrlUrlForGeneration("http://127.0.0.1:8080/crl", 1) == "http://127.0.0.1:8080/crl");
  CHECK(ca::CrlUrlForGeneration("http://127.0.0.1:8080/crl", 2) ==
        "http://127.0.0.1:8080/crl-gen2");
  CHECK(ca::CrlUrlForGeneration("http://crl.example/pki/ca.crl", 3) ==
        "http://crl.example/pki/ca-gen3.crl");
  CHECK(ca::CrlUrlForGeneration("http://crl.example/ca.crl?x=1.2", 2) ==
        "http://crl.example/ca-gen2.crl?x=1.2");
  // A dot in the host or an earlier segment is not an extension.
  CHECK(ca::CrlUrlForGeneration("http://crl.example/v1.0/crl", 2) ==
        "http://crl.example/v1.0/crl-gen2");
  CHECK(ca::CrlUrlForGeneration("http://crl.example", 2) == "http://crl.example/crl-gen2");
  CHECK(ca::CrlUrlsForGeneration({"http://a/crl", "http://b/c.crl"}, 2) ==
        std::vector<std::string>{"http://a/crl-gen2", "http://b/c-gen2.crl"});
}
