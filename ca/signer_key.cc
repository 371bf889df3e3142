// signer_key.cc — certificates signed through a CaKey: the TBS is assembled by tbs.cc, the
// signature comes from the key (wherever it lives) and is verified before the DER is returned.
#include "ca/ca_key.h"
#include "ca/signer.h"
#include "ca/tbs.h"

namespace ca {
namespace {

// A self-signed certificate's issuer name is its subject and its AKI its own SKI. BuildTbs reads
// both from an issuer certificate, so a draft with the right subject and SKI is made first:
// signed by a throw-away key (its signature and AKI are never used), its subject is spec's and
// its SKI is derived from the subject key, exactly as in the final certificate.
Result<std::unique_ptr<CrtChain>> SelfSignedDraft(const CertSpec& spec,
                                                  const mbedtls_pk_context& subject_key, Rng rng) {
  auto throwaway = PrivateKey::GenerateP256(rng);
  if (!throwaway) return std::unexpected(throwaway.error());
  auto draft = SignCertificate(spec, subject_key, nullptr, *(*throwaway)->pk(), rng);
  if (!draft) return std::unexpected(draft.error());
  auto chain = std::make_unique<CrtChain>();
  int ret = mbedtls_x509_crt_parse_der(chain->get(), draft->data(), draft->size());
  if (ret != 0) return Fail(Code::kCrypto, MbedtlsError("mbedtls_x509_crt_parse_der", ret));
  return chain;
}

}  // namespace

Result<base::Bytes> SignCertificateWith(const CertSpec& spec, const mbedtls_pk_context* subject_key,
                                        const mbedtls_x509_crt* issuer_cert, CaKey& issuer_key,
                                        Rng rng) {
  std::unique_ptr<PkContext> own_key;
  std::unique_ptr<CrtChain> draft;
  if (issuer_cert == nullptr) {
    auto pk = PublicKeyOf(issuer_key);
    if (!pk) return std::unexpected(pk.error());
    own_key = std::move(*pk);
    subject_key = own_key->get();
    auto made = SelfSignedDraft(spec, *subject_key, rng);
    if (!made) return std::unexpected(made.error());
    draft = std::move(*made);
    issuer_cert = draft->get();
  } else if (auto ok = CheckKeyMatches(*issuer_cert, issuer_key); !ok) {
    return std::unexpected(ok.error());
  }
  if (subject_key == nullptr) return Fail(Code::kInvalidArgument, "no subject key");
  auto tbs = BuildTbs(spec, *subject_key, *issuer_cert);
  if (!tbs) return std::unexpected(tbs.error());
  auto sig = SignSha256(issuer_key, *tbs, rng);
  if (!sig) return std::unexpected(sig.error());
  auto der = WrapTbs(*tbs, *sig);
  if (!der) return std::unexpected(der.error());
  // Self-signed: the certificate verifies under its own key (the draft's key is the subject's).
  auto checked = CheckSigned(*der, *tbs, *issuer_cert);
  if (!checked) return std::unexpected(checked.error());
  return der;
}

}  // namespace ca
