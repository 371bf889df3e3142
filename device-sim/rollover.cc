// rollover.cc — learning a new root through a NewWithOld link (rollover.h).
#include "device-sim/rollover.h"

#include <cstdio>
#include <cstring>
#include <mutex>

#include "ca/cert.h"
#include "ca/encoding.h"

namespace devsim {
namespace {

bool SameRaw(const mbedtls_x509_buf& a, const mbedtls_x509_buf& b) {
  return a.len == b.len && std::memcmp(a.p, b.p, a.len) == 0;
}

bool Trusted(const mbedtls_x509_crt& cert, mbedtls_x509_crt* trust) {
  for (const mbedtls_x509_crt* t = trust; t != nullptr && t->raw.len != 0; t = t->next) {
    if (SameRaw(t->raw, cert.raw)) return true;
  }
  return false;
}

bool SelfSigned(const mbedtls_x509_crt& cert) {
  return SameRaw(cert.subject_raw, cert.issuer_raw) &&
         SameRaw(cert.subject_key_id, cert.authority_key_id.keyIdentifier);
}

// The link alone (no chain), verified under trust with the current time.
bool VerifiesUnder(const base::Bytes& der, mbedtls_x509_crt* trust) {
  ca::CrtChain link;
  if (mbedtls_x509_crt_parse_der(link.get(), der.data(), der.size()) != 0) return false;
  uint32_t flags = 0;
  return mbedtls_x509_crt_verify(link.get(), trust, nullptr, nullptr, &flags, nullptr, nullptr) ==
             0 &&
         flags == 0;
}

std::mutex file_mu;

}  // namespace

std::vector<base::Bytes> RootsLearnedFromCacerts(const std::vector<base::Bytes>& cacerts,
                                                 mbedtls_x509_crt* trust) {
  ca::CrtChain parsed;
  for (const base::Bytes& der : cacerts) {
    if (mbedtls_x509_crt_parse_der(parsed.get(), der.data(), der.size()) != 0) return {};
  }
  std::vector<base::Bytes> learned;
  for (const mbedtls_x509_crt* root = parsed.get(); root != nullptr; root = root->next) {
    if (!SelfSigned(*root) || Trusted(*root, trust)) continue;
    for (const mbedtls_x509_crt* link = parsed.get(); link != nullptr; link = link->next) {
      if (link == root || SelfSigned(*link)) continue;
      if (!ca::SameSubject(*link, *root) || !ca::SameKey(*link, *root)) continue;
      if (VerifiesUnder(ca::CertDer(*link), trust)) {
        learned.push_back(ca::CertDer(*root));
        break;
      }
    }
  }
  return learned;
}

ca::Result<int> FollowRollover(const std::vector<base::Bytes>& cacerts, mbedtls_x509_crt* trust,
                               const std::string& file) {
  std::vector<base::Bytes> roots = RootsLearnedFromCacerts(cacerts, trust);
  if (roots.empty()) return 0;
  std::lock_guard lock(file_mu);
  std::FILE* out = std::fopen(file.c_str(), "a");
  if (out == nullptr) {
    return ca::Fail(ca::Code::kInvalidArgument, "--follow-rollover " + file + ": cannot append");
  }
  for (const base::Bytes& root : roots) {
    if (mbedtls_x509_crt_parse_der(trust, root.data(), root.size()) != 0) continue;
    const std::string pem = ca::DerToPem(root, "CERTIFICATE");
    std::fwrite(pem.data(), 1, pem.size(), out);
  }
  const bool ok = std::fclose(out) == 0;
  if (!ok) return ca::Fail(ca::Code::kInvalidArgument, "--follow-rollover " + file + ": write");
  return static_cast<int>(roots.size());
}

}  // namespace devsim
