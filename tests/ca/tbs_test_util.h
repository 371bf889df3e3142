// tbs_test_util.h — helpers for the Prepare/Sign/Lint tests: an Issuer over a throwaway CA,
// cutting the TBS out of a signed certificate, and editing a TBS's DER element by element to
// build certificates no honest builder would write.
#pragma once

#include <doctest/doctest.h>
#include <mbedtls/asn1.h>

#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "ca/issuer.h"
#include "tests/ca/test_util.h"

namespace catest {

struct IssuerFixture {
  std::unique_ptr<ca::Drbg> drbg;
  TestCa root;
  std::unique_ptr<ca::Issuer> issuer;
  std::unique_ptr<ca::PrivateKey> device_key;
  base::Bytes device_spki;

  explicit IssuerFixture(std::string_view seed, base::UnixTime ca_not_after = kNow + 3650 * kDay,
                         std::string ca_subject = "CN=Test Root CA,O=provisiond tests")
      : drbg(MakeDrbg(seed)), root(MakeCa(drbg->rng(), ca_not_after, std::move(ca_subject))) {
    auto loaded = ca::Issuer::Load(root.cert_pem, root.key_pem, drbg->rng());
    REQUIRE_MESSAGE(loaded.has_value(), (loaded ? "" : loaded.error().detail));
    issuer = std::move(*loaded);
    device_key = NewP256(drbg->rng());
    device_spki = PublicDer(*device_key->pk());
  }

  ca::PreparedCert Prepare(std::string_view id = "dev-1", const ca::Profile& profile = {},
                           base::UnixTime now = kNow) {
    auto prepared = issuer->Prepare(id, device_spki, profile, now, drbg->rng());
    REQUIRE_MESSAGE(prepared.has_value(), (prepared ? "" : prepared.error().detail));
    return *prepared;
  }

  // The CertSpec the operational profile uses, for building certificates the old way
  // (SignCertificate) and for variations on it.
  ca::CertSpec ProfileSpec(base::Bytes serial = {0x11, 0x22, 0x33}) const {
    ca::CertSpec spec;
    spec.subject_dn = "CN=dev-1";
    spec.serial = std::move(serial);
    spec.not_before = kNow - 300;
    spec.not_after = kNow + 90 * kDay;
    spec.key_usage = MBEDTLS_X509_KU_DIGITAL_SIGNATURE;
    spec.ext_key_usage = {ca::Eku::kClientAuth};
    spec.uris = {"urn:provisiond:device:dev-1"};
    return spec;
  }

  // spec for subject_key, signed by this fixture's CA through SignCertificate.
  base::Bytes SignWithCa(const ca::CertSpec& spec, const mbedtls_pk_context& subject_key) {
    auto der =
        ca::SignCertificate(spec, subject_key, &issuer->ca_cert(), *root.key->pk(), drbg->rng());
    REQUIRE_MESSAGE(der.has_value(), (der ? "" : der.error().detail));
    return *der;
  }
};

// The TBSCertificate bytes of a signed certificate.
inline base::Bytes TbsOf(const base::Bytes& cert_der) {
  auto chain = Parse(cert_der);
  return base::Bytes(chain->get()->tbs.p, chain->get()->tbs.p + chain->get()->tbs.len);
}

// The elements inside a constructed DER element, each as its raw TLV bytes.
inline std::vector<base::Bytes> Children(const base::Bytes& tlv) {
  unsigned char* p = const_cast<unsigned char*>(tlv.data());
  const unsigned char* end = p + tlv.size();
  size_t len = 0;
  ++p;  // tag (all tags here are one byte)
  REQUIRE(mbedtls_asn1_get_len(&p, end, &len) == 0);
  std::vector<base::Bytes> out;
  while (p < end) {
    unsigned char* start = p++;
    REQUIRE(mbedtls_asn1_get_len(&p, end, &len) == 0);
    p += len;
    out.emplace_back(start, p);
  }
  return out;
}

inline base::Bytes Join(unsigned char tag, const std::vector<base::Bytes>& children) {
  base::Bytes content;
  for (const auto& c : children) content.insert(content.end(), c.begin(), c.end());
  return Tlv(tag, content);
}

// TBSCertificate fields by index: 0 version, 1 serial, 2 signature, 3 issuer, 4 validity,
// 5 subject, 6 subjectPublicKeyInfo, 7 [3] extensions.
inline base::Bytes ReplaceTbsField(const base::Bytes& tbs, size_t index,
                                   const base::Bytes& element) {
  auto fields = Children(tbs);
  REQUIRE(index < fields.size());
  fields[index] = element;
  return Join(0x30, fields);
}

inline base::Bytes OidTlv(const char* oid, size_t len) {
  return Tlv(MBEDTLS_ASN1_OID, base::Bytes(oid, oid + len));
}
#define CATEST_OID_TLV(OID) catest::OidTlv(OID, MBEDTLS_OID_SIZE(OID))

inline base::Bytes ExtensionTlv(const base::Bytes& oid_tlv, bool critical,
                                const base::Bytes& value) {
  std::vector<base::Bytes> parts{oid_tlv};
  if (critical) parts.push_back({0x01, 0x01, 0xff});
  parts.push_back(Tlv(MBEDTLS_ASN1_OCTET_STRING, value));
  return Join(0x30, parts);
}

// Rewrites the extension list of a TBS (each entry an Extension TLV).
inline base::Bytes EditExtensions(const base::Bytes& tbs,
                                  const std::function<void(std::vector<base::Bytes>&)>& edit) {
  auto fields = Children(tbs);
  REQUIRE(fields.size() == 8);
  auto outer = Children(fields[7]);  // [3] { SEQUENCE OF Extension }
  REQUIRE(outer.size() == 1);
  auto extensions = Children(outer[0]);
  edit(extensions);
  fields[7] = Join(0xa3, {Join(0x30, extensions)});
  return Join(0x30, fields);
}

// Drops the extension whose OID TLV is oid_tlv (which must be present).
inline base::Bytes RemoveExtension(const base::Bytes& tbs, const base::Bytes& oid_tlv) {
  return EditExtensions(tbs, [&](std::vector<base::Bytes>& exts) {
    const size_t before = exts.size();
    std::erase_if(exts, [&](const base::Bytes& ext) { return Children(ext)[0] == oid_tlv; });
    REQUIRE(exts.size() + 1 == before);
  });
}

// Replaces the extension whose OID TLV is oid_tlv (which must be present) by `replacement`.
inline base::Bytes ReplaceExtension(const base::Bytes& tbs, const base::Bytes& oid_tlv,
                                    const base::Bytes& replacement) {
  return EditExtensions(tbs, [&](std::vector<base::Bytes>& exts) {
    int found = 0;
    for (auto& ext : exts) {
      if (Children(ext)[0] == oid_tlv) {
        ext = replacement;
        ++found;
      }
    }
    REQUIRE(found == 1);
  });
}

}  // namespace catest
