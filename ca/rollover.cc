// rollover.cc — a CA rollover's new root and link certificates (see rollover.h).
#include "ca/rollover.h"

#include <mbedtls/oid.h>

#include <algorithm>
#include <cstring>

#include "ca/cert.h"
#include "ca/signer.h"

namespace ca {
namespace {

constexpr unsigned kRootKeyUsage = MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN;

CertSpec RootSpec(const std::string& subject_dn, base::Bytes serial, base::UnixTime not_before,
                  base::UnixTime not_after) {
  return CertSpec{.subject_dn = subject_dn,
                  .serial = std::move(serial),
                  .not_before = not_before,
                  .not_after = not_after,
                  .is_ca = true,
                  .max_path_len = 0,
                  .key_usage = kRootKeyUsage};
}

// subject_key's public half under issuer (cert + key): one link certificate.
Result<base::Bytes> Link(const std::string& subject_dn, const CaKey& subject_key,
                         const mbedtls_x509_crt& issuer, CaKey& issuer_key,
                         base::UnixTime not_before, base::UnixTime not_after, Rng rng) {
  auto serial = RandomSerial(rng);
  if (!serial) return std::unexpected(serial.error());
  auto subject_pk = PublicKeyOf(subject_key);
  if (!subject_pk) return std::unexpected(subject_pk.error());
  return SignCertificateWith(RootSpec(subject_dn, std::move(*serial), not_before, not_after),
                             (*subject_pk)->get(), &issuer, issuer_key, rng);
}

bool SameRaw(const mbedtls_x509_buf& a, const mbedtls_x509_buf& b) {
  return a.len == b.len && std::memcmp(a.p, b.p, a.len) == 0;
}

}  // namespace

Result<std::string> SubjectDnText(const mbedtls_x509_name& name) {
  std::string out;
  for (const mbedtls_x509_name* cur = &name; cur != nullptr; cur = cur->next) {
    if (cur->oid.p == nullptr) continue;
    if (cur->MBEDTLS_PRIVATE(next_merged)) return Fail(Code::kInvalidArgument, "subject has a multi-valued RDN");
    const char* short_name = nullptr;
    if (mbedtls_oid_get_attr_short_name(&cur->oid, &short_name) != 0) {
      return Fail(Code::kInvalidArgument, "subject has an attribute mbedTLS cannot name");
    }
    if (!out.empty()) out += ',';
    out += short_name;
    out += '=';
    out += EscapeDnValue(
        std::string_view(reinterpret_cast<const char*>(cur->val.p), cur->val.len));
  }
  if (out.empty()) return Fail(Code::kInvalidArgument, "subject is empty");
  return out;
}

Result<base::Bytes> SelfSignedRoot(const std::string& subject_dn, base::UnixTime not_before,
                                   base::UnixTime not_after, CaKey& key, Rng rng) {
  auto serial = RandomSerial(rng);
  if (!serial) return std::unexpected(serial.error());
  return SignCertificateWith(RootSpec(subject_dn, std::move(*serial), not_before, not_after),
                             nullptr, nullptr, key, rng);
}

Result<RolloverCerts> MakeRolloverCerts(const mbedtls_x509_crt& old_ca, CaKey& old_key,
                                        CaKey& new_key, base::UnixTime now, int days, Rng rng) {
  if (days < 1) return Fail(Code::kInvalidArgument, "the new CA needs at least one day");
  if (auto r = CheckKeyMatches(old_ca, old_key); !r) return std::unexpected(r.error());
  if (old_key.PublicKeyDer() == new_key.PublicKeyDer()) {
    return Fail(Code::kInvalidArgument, "the new CA key is the old one");
  }
  auto subject = SubjectDnText(old_ca.subject);
  if (!subject) return std::unexpected(subject.error());
  const base::UnixTime new_from = now - 300;
  const base::UnixTime new_until = now + static_cast<base::UnixTime>(days) * 86400;
  RolloverCerts out;
  auto root = SelfSignedRoot(*subject, new_from, new_until, new_key, rng);
  if (!root) return std::unexpected(root.error());
  out.new_ca = std::move(*root);
  auto parsed = ParseCertificates(std::string_view(
      reinterpret_cast<const char*>(out.new_ca.data()), out.new_ca.size()));
  if (!parsed) return std::unexpected(parsed.error());
  const mbedtls_x509_crt& new_ca = *(*parsed)->get();
  if (!SameRaw(new_ca.subject_raw, old_ca.subject_raw)) {
    return Fail(Code::kInvalidArgument, "the CA's subject '" + DnString(old_ca.subject) +
                                            "' cannot be written again byte for byte; a "
                                            "rollover keeps the subject");
  }
  const base::UnixTime old_from = ToUnixTime(old_ca.valid_from);
  const base::UnixTime old_until = ToUnixTime(old_ca.valid_to);
  auto new_with_old =
      Link(*subject, new_key, old_ca, old_key, new_from, std::min(old_until, new_until), rng);
  if (!new_with_old) return std::unexpected(new_with_old.error());
  out.new_with_old = std::move(*new_with_old);
  auto old_with_new = Link(*subject, old_key, new_ca, new_key, old_from, old_until, rng);
  if (!old_with_new) return std::unexpected(old_with_new.error());
  out.old_with_new = std::move(*old_with_new);
  return out;
}

}  // namespace ca
