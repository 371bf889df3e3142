// checks_test.cc — the authority's checks before any write (daemon/authority/enrollment.cc
// CheckRequest), each refusal alone and each against its neighbour in the order of enrollment.h.
#include <doctest/doctest.h>

#include "daemon/authority/enrollment.h"
#include "tests/daemon/authority/bench.h"

using namespace authoritytest;

namespace {

// A refusal decided before the store: returned at once, nothing reserved.
EnrollResult Refused(Bench& b, const EnrollRequest& request, EnrollCode want) {
  EnrollResult r = b.Run(request);
  CHECK_MESSAGE(r.code == want, (std::string(EnrollCodeName(r.code)) + " (" + r.detail +
                                 "), want " + EnrollCodeName(want)));
  CHECK(r.der.empty());
  CHECK(b.Rows("issuance_intents") == 0);
  return r;
}

}  // namespace

TEST_CASE("an acceptable request is issued and recorded") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  EnrollResult r = b.Run(b.Request(d));
  REQUIRE_MESSAGE(r.code == EnrollCode::kIssued, r.detail);
  CHECK_FALSE(r.der.empty());
  CHECK(r.device_id == d.id);
  CHECK(b.Rows("certificates", "serial = '" + r.serial_hex + "'") == 1);
  CHECK(b.Rows("issuance_intents") == 0);  // issued: its row is gone, its certificate has all
  CHECK(b.Rows("certificates", "tbs_sha256 IS NOT NULL") == 1);
}

TEST_CASE("no client certificate; before the rate limits") {
  Bench b;
  b.config.policy.address_rate = RateSpec{1, std::chrono::hours(1)};
  b.Start();
  Device d = b.NewDevice();
  EnrollRequest anonymous = b.Request(d);
  anonymous.peer = PeerIdentity{};
  Refused(b, anonymous, EnrollCode::kNoClientCertificate);
  Device other = b.NewDevice();
  EnrollRequest first = b.Request(other);
  first.content_type = "text/plain";  // spends the address's token, refused later
  Refused(b, first, EnrollCode::kBadContentType);
  Refused(b, anonymous, EnrollCode::kNoClientCertificate);  // address over its limit too
}

TEST_CASE("rate limit per source address, before the device's; it refills with the clock") {
  Bench b;
  b.config.policy.address_rate = RateSpec{1, std::chrono::hours(1)};
  b.config.policy.device_rate = RateSpec{1, std::chrono::hours(1)};
  b.Start();
  Device d = b.NewDevice();
  EnrollRequest bad = b.Request(d);
  bad.content_type = "text/plain";
  Refused(b, bad, EnrollCode::kBadContentType);  // one token of each bucket
  EnrollResult r = Refused(b, bad, EnrollCode::kRateLimited);
  CHECK(r.detail == "source address over its rate limit");  // both over: the address's first
  CHECK(r.retry_after == 3600);
  b.time.Advance(3599);
  Refused(b, bad, EnrollCode::kRateLimited);
  b.time.Advance(3601);
  Refused(b, bad, EnrollCode::kBadContentType);
}

TEST_CASE("rate limit per device, before the certificate kind") {
  Bench b;
  b.config.policy.device_rate = RateSpec{1, std::chrono::hours(1)};
  b.Start();
  Device d = b.NewDevice();
  EnrollRequest bad = b.Request(d);
  bad.content_type = "text/plain";
  Refused(b, bad, EnrollCode::kBadContentType);
  EnrollRequest from_elsewhere = bad;
  from_elsewhere.peer_address = "127.0.0.9:40000";  // another address, the same device
  EnrollResult r = Refused(b, from_elsewhere, EnrollCode::kRateLimited);
  CHECK(r.detail == "device over its rate limit");
  EnrollRequest wrong_kind = from_elsewhere;
  wrong_kind.reenroll = true;  // a bootstrap certificate on simplereenroll, over the limit
  Refused(b, wrong_kind, EnrollCode::kRateLimited);
  b.time.Advance(3600);
  Refused(b, wrong_kind, EnrollCode::kNeedsOperational);
}

TEST_CASE("certificate kind for the endpoint, before the device id") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  EnrollRequest request = b.Request(d);
  request.reenroll = true;
  Refused(b, request, EnrollCode::kNeedsOperational);
  request.peer.device_id.clear();  // names no device id either
  Refused(b, request, EnrollCode::kNeedsOperational);
  EnrollRequest enroll = b.Request(d);
  enroll.peer.kind = AuthKind::kOperational;
  Refused(b, enroll, EnrollCode::kNeedsBootstrap);
  enroll.peer.device_id.clear();
  Refused(b, enroll, EnrollCode::kNeedsBootstrap);
}

TEST_CASE("device id, before the labelled profile's allow rule") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  EnrollRequest request = b.Request(d);
  request.peer.device_id.clear();
  request.peer.identity_error = "no CN";
  CHECK(Refused(b, request, EnrollCode::kNoDeviceId).detail == "no CN");
  const ProfileRule nobody;
  request.rule = &nobody;
  request.label = "closed";
  Refused(b, request, EnrollCode::kNoDeviceId);
}

TEST_CASE("labelled profile's allow rule, before the content type") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  EnrollRequest request = b.Request(d);
  ProfileRule other_vendor;
  other_vendor.anchor_key_sha256.insert(std::string(64, 'b'));
  request.rule = &other_vendor;
  request.label = "line-a";
  Refused(b, request, EnrollCode::kProfileNotAllowed);
  request.content_type = "text/plain";
  Refused(b, request, EnrollCode::kProfileNotAllowed);
  ProfileRule maker;
  maker.anchor_key_sha256.insert(d.peer.anchor_key_sha256);
  request.rule = &maker;
  Refused(b, request, EnrollCode::kBadContentType);
}

TEST_CASE("a labelled profile without a rule admits nobody; the default profile any trusted CA") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  EnrollRequest request = b.Request(d);
  request.label = "line-a";  // no rule configured for it: request.rule stays null
  Refused(b, request, EnrollCode::kProfileNotAllowed);
  request.label = "";
  CHECK(b.Run(request).code == EnrollCode::kIssued);
}

TEST_CASE("content type, before the body's base64") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  EnrollRequest request = b.Request(d);
  request.content_type = "application/json";
  Refused(b, request, EnrollCode::kBadContentType);
  request.body = "!!! not base64 !!!";
  Refused(b, request, EnrollCode::kBadContentType);
  request.content_type = " Application/PKCS10 ; charset=x";  // parameters and case are fine
  Refused(b, request, EnrollCode::kBadBase64);
}

TEST_CASE("base64, then the CSR itself") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  EnrollRequest request = b.Request(d);
  request.body = ca::Base64Encode(base::Bytes{0x30, 0x03, 0x02, 0x01, 0x00}, false);
  EnrollResult r = Refused(b, request, EnrollCode::kBadCsr);
  CHECK(r.csr_error == ca::Code::kMalformed);
}

TEST_CASE("CSR identity (kBadCsr, kIdentityMismatch), before the channel binding") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  EnrollRequest request = b.Request(d);
  request.body = b.Csr(*d.key, "dev-somebody-else");
  CHECK(Refused(b, request, EnrollCode::kBadCsr).csr_error == ca::Code::kIdentityMismatch);
  request.body = b.Csr(*d.key, "dev-somebody-else", "not-this-connection");
  CHECK(Refused(b, request, EnrollCode::kBadCsr).csr_error == ca::Code::kIdentityMismatch);
}

TEST_CASE("channel binding: the connection's tls-exporter value, TLS 1.3 only; before key reuse") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  EnrollRequest request = b.Request(d);
  request.body = b.Csr(*d.key, d.id, "not-this-connection");
  Refused(b, request, EnrollCode::kChannelBinding);
  EnrollRequest tls12 = b.Request(d);
  tls12.body = b.Csr(*d.key, d.id, d.peer.channel_binding);
  tls12.peer.tls13 = false;
  tls12.peer.channel_binding.clear();
  CHECK(Refused(b, tls12, EnrollCode::kChannelBinding).detail ==
        "challengePassword sent over TLS 1.2");
  // The bootstrap certificate's own key AND a wrong binding: the binding is checked first.
  request.body = b.Csr(*d.bootstrap_key, d.id, "not-this-connection");
  Refused(b, request, EnrollCode::kChannelBinding);
  request.body = b.Csr(*d.bootstrap_key, d.id, d.peer.channel_binding);
  Refused(b, request, EnrollCode::kKeyReuse);
  request.body = b.Csr(*d.key, d.id, d.peer.channel_binding);  // the right value: issued
  CHECK(b.Run(request).code == EnrollCode::kIssued);
}

TEST_CASE("key reuse: a CSR with the bootstrap certificate's key") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  EnrollRequest request = b.Request(d);
  request.body = b.Csr(*d.bootstrap_key, d.id);
  CHECK(Refused(b, request, EnrollCode::kKeyReuse).detail ==
        "CSR key is the bootstrap certificate's key");
}
