// enrollment_test.cc — the device name an enrollment speaks for under --identity-scope
// (daemon/authority/device_name.cc DeviceNameOf) and the labelled-profile rules
// (daemon/profiles.cc).
#include "daemon/authority/enrollment.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "ca/encoding.h"
#include "ca/keys.h"
#include "daemon/profiles.h"
#include "tests/ca/test_util.h"

using namespace provisiond;

namespace {

PeerIdentity Bootstrap(std::string id, std::string anchor_key) {
  PeerIdentity p;
  p.kind = AuthKind::kBootstrap;
  p.device_id = std::move(id);
  p.anchor_key_sha256 = std::move(anchor_key);
  return p;
}

const std::string kAnchorA(64, 'a');
const std::string kAnchorB = std::string(16, 'b') + std::string(48, 'a');

}  // namespace

TEST_CASE("DeviceNameOf: global ids are bare; per-issuer ids carry the anchor's scope") {
  auto a = DeviceNameOf(Bootstrap("dev-0003", kAnchorA), IdentityScope::kGlobal);
  auto b = DeviceNameOf(Bootstrap("dev-0003", kAnchorB), IdentityScope::kGlobal);
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  CHECK(a->qualified == "dev-0003");
  CHECK(a->qualified == b->qualified);  // one device, one quota, one rate bucket
  a = DeviceNameOf(Bootstrap("dev-0003", kAnchorA), IdentityScope::kPerIssuer);
  b = DeviceNameOf(Bootstrap("dev-0003", kAnchorB), IdentityScope::kPerIssuer);
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  CHECK(a->id == "dev-0003");
  CHECK(a->scope == std::string(16, 'a'));
  CHECK(a->qualified == std::string(16, 'a') + ":dev-0003");
  CHECK(b->qualified == std::string(16, 'b') + ":dev-0003");
  // No anchor recorded (never after a verified handshake): refused, not global by accident.
  CHECK_FALSE(DeviceNameOf(Bootstrap("dev-0003", ""), IdentityScope::kPerIssuer).has_value());
  CHECK_FALSE(DeviceNameOf(Bootstrap("", kAnchorA), IdentityScope::kGlobal).has_value());
}

TEST_CASE("DeviceNameOf: an operational certificate keeps the scope it was issued with") {
  PeerIdentity op;
  op.kind = AuthKind::kOperational;
  op.device_id = "dev-0003";
  op.anchor_key_sha256 = kAnchorB;  // our CA: never the scope of an operational certificate
  op.dn_qualifier = "0123456789abcdef";
  for (auto scope : {IdentityScope::kGlobal, IdentityScope::kPerIssuer}) {
    auto name = DeviceNameOf(op, scope);
    REQUIRE(name.has_value());
    CHECK(name->qualified == "0123456789abcdef:dev-0003");
  }
  op.dn_qualifier = "";
  CHECK(DeviceNameOf(op, IdentityScope::kPerIssuer)->qualified == "dev-0003");
  op.dn_qualifier = "not-a-scope";
  CHECK_FALSE(DeviceNameOf(op, IdentityScope::kGlobal).has_value());
}

TEST_CASE("--profile allow=: CA files by key hash, any, and no rule = nobody") {
  auto drbg = catest::MakeDrbg("profiles");
  catest::TestCa ca = catest::MakeCa(drbg->rng());
  char tmpl[] = "/tmp/provisiond-allow-test.XXXXXX";
  int fd = ::mkstemp(tmpl);
  REQUIRE(fd >= 0);
  ::close(fd);
  std::ofstream(tmpl) << ca.cert_pem;
  auto spki = ca::PublicKeyDer(*ca.key->pk());
  REQUIRE(spki.has_value());

  ProfileOptions options;
  options.labeled = {std::string("label=gw,ou=gateways,allow=") + tmpl, "label=open,allow=any",
                     "label=closed"};
  ServeConfig config;
  auto applied = ApplyProfileOptions(options, config);
  std::remove(tmpl);
  REQUIRE_MESSAGE(applied.has_value(), (applied ? "" : applied.error().detail));
  REQUIRE(config.profile_rules.size() == 3);
  const ProfileRule& gw = config.profile_rules.at("gw");
  CHECK_FALSE(gw.any_anchor);
  CHECK(gw.anchor_key_sha256 == std::set<std::string>{ca::Sha256Hex(*spki)});
  CHECK(config.profile_rules.at("open").any_anchor);
  CHECK_FALSE(config.profile_rules.at("closed").any_anchor);
  CHECK(config.profile_rules.at("closed").anchor_key_sha256.empty());

  ServeConfig bad;
  options.labeled = {"label=gw,allow=/nonexistent/ca.pem"};
  auto refused = ApplyProfileOptions(options, bad);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().detail.find("allow=/nonexistent/ca.pem") != std::string::npos);
}
