// token_key.cc — the CaKey whose private key stays in the token: one session of its own, C_Sign
// over the digest (CKM_ECDSA), the raw r||s turned into DER; a session the token lost is reopened
// and the signature retried once.
#include <mbedtls/pk.h>

#include <array>

#include "base/scoped.h"
#include "ca/keys.h"
#include "ca/token/ckr.h"
#include "ca/token/impl.h"

namespace ca::token {
namespace {

constexpr size_t kCoordinateBytes = 32;
// SubjectPublicKeyInfo { id-ecPublicKey, prime256v1 } up to the BIT STRING's first content byte;
// the 65-byte uncompressed point follows.
constexpr unsigned char kSpkiPrefix[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48,
                                         0xCE, 0x3D, 0x02, 0x01, 0x06, 0x08, 0x2A, 0x86, 0x48,
                                         0xCE, 0x3D, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};

// One INTEGER of an Ecdsa-Sig-Value: leading zero bytes dropped (one kept), a 0x00 put back in
// front when the high bit is set so the value stays positive.
void AppendInteger(base::Bytes& out, std::span<const unsigned char> value) {
  size_t skip = 0;
  while (skip + 1 < value.size() && value[skip] == 0) ++skip;
  value = value.subspan(skip);
  const bool pad = (value[0] & 0x80) != 0;
  out.push_back(0x02);
  out.push_back(static_cast<unsigned char>(value.size() + (pad ? 1 : 0)));
  if (pad) out.push_back(0x00);
  out.insert(out.end(), value.begin(), value.end());
}

}  // namespace

// SEQUENCE { INTEGER r, INTEGER s } from the token's r||s (each 32 bytes for P-256). At most 72
// bytes, so every length fits the short form.
base::Bytes EcdsaSignatureDer(std::span<const unsigned char, 2 * kCoordinateBytes> raw) {
  base::Bytes body;
  AppendInteger(body, raw.first(kCoordinateBytes));
  AppendInteger(body, raw.last(kCoordinateBytes));
  base::Bytes out = {0x30, static_cast<unsigned char>(body.size())};
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

// CKA_EC_POINT as a DER SubjectPublicKeyInfo, checked by mbedTLS (the point is on P-256). The
// attribute is a DER OCTET STRING around the uncompressed point; some modules give the bare point.
Result<base::Bytes> SpkiFromEcPoint(base::Bytes point) {
  if (point.size() == 67 && point[0] == 0x04 && point[1] == 0x41)
    point.erase(point.begin(), point.begin() + 2);
  if (point.size() != 1 + 2 * kCoordinateBytes || point[0] != 0x04) {
    return Fail(Code::kUnsupportedKey, "CKA_EC_POINT is not an uncompressed P-256 point");
  }
  base::Bytes spki(std::begin(kSpkiPrefix), std::end(kSpkiPrefix));
  spki.insert(spki.end(), point.begin(), point.end());
  base::Scoped<mbedtls_pk_context, mbedtls_pk_init, mbedtls_pk_free> pk;
  const int ret = mbedtls_pk_parse_public_key(pk.get(), spki.data(), spki.size());
  if (ret != 0)
    return Fail(Code::kUnsupportedKey, MbedtlsError("mbedtls_pk_parse_public_key", ret));
  return PublicKeyDer(*pk.get());
}

namespace {

class TokenKey final : public CaKey {
 public:
  TokenKey(std::shared_ptr<Token::Impl> impl, KeyName name, base::Bytes spki, Session session,
           CK_OBJECT_HANDLE key)
      : impl_(std::move(impl)),
        name_(std::move(name)),
        spki_(std::move(spki)),
        session_(std::move(session)),
        key_(key) {}
  ~TokenKey() override {  // closes the session before impl_ may finalize the module
    std::shared_lock calls(impl_->calls());
    session_.reset();
  }

  const base::Bytes& PublicKeyDer() const override { return spki_; }
  const char* Kind() const override { return "pkcs11"; }

  // Recovery, in order: sign on the session held; if the token lost it (or it predates the last
  // re-initialisation), a new session and key handle and one more try; if no session can be had,
  // the module initialised again (the token may be back) and one last reopen.
  Result<base::Bytes> SignDigest(std::span<const unsigned char, kSha256Bytes> digest,
                                 Rng) override {
    std::shared_lock calls(impl_->calls());
    std::array<unsigned char, 2 * kCoordinateBytes> raw{};
    if (session_.stale()) session_ = Session();
    if (session_) {
      const Attempt attempt = SignOnce(digest, raw);
      if (attempt.rv == CKR_OK) return EcdsaSignatureDer(raw);
      session_.reset();  // a failed operation never leaves its session behind
      Error error = impl_->FailedError(attempt.call, attempt.rv);
      if (!IsSessionFailure(attempt.rv)) return Fail(Code::kCrypto, error.detail);
    }
    auto reopened = Reopen();
    if (!reopened) {
      const uint64_t seen = impl_->generation();
      calls.unlock();
      impl_->Reinitialize(seen);
      calls.lock();
      reopened = Reopen();
      if (!reopened) return std::unexpected(reopened.error());
    }
    const Attempt attempt = SignOnce(digest, raw);
    if (attempt.rv == CKR_OK) return EcdsaSignatureDer(raw);
    session_.reset();
    Error error = impl_->FailedError(attempt.call, attempt.rv);
    error.code = IsSessionFailure(attempt.rv) ? Code::kUnavailable : Code::kCrypto;
    return std::unexpected(error);
  }

 private:
  struct Attempt {
    const char* call;
    CK_RV rv;
  };

  Attempt SignOnce(std::span<const unsigned char, kSha256Bytes> digest,
                   std::array<unsigned char, 2 * kCoordinateBytes>& raw) {
    CK_MECHANISM mechanism = {CKM_ECDSA, nullptr, 0};
    CK_RV rv = impl_->fl()->C_SignInit(session_.get(), &mechanism, key_);
    if (rv != CKR_OK) return {"C_SignInit", rv};
    CK_ULONG size = raw.size();
    rv = impl_->fl()->C_Sign(session_.get(), const_cast<unsigned char*>(digest.data()),
                             digest.size(), raw.data(), &size);
    if (rv != CKR_OK) return {"C_Sign", rv};
    if (size != raw.size()) return {"C_Sign", CKR_SIGNATURE_LEN_RANGE};
    impl_->CountSignature();
    return {"C_Sign", CKR_OK};
  }

  // A new session (logged in again if the token lost the login) and the key found again: its
  // handle may have changed. kUnavailable whatever fails: the token is expected to come back.
  Result<void> Reopen() {
    auto session = impl_->OpenUserSession(false);
    if (!session) return Fail(Code::kUnavailable, session.error().detail);
    auto found = impl_->FindObjects(*session, CKO_PRIVATE_KEY, name_);
    if (!found) return Fail(Code::kUnavailable, found.error().detail);
    if (found->size() != 1) {
      return Fail(Code::kUnavailable,
                  "the token no longer shows the key " + FormatKeyUri(impl_->uri(), name_));
    }
    session_ = std::move(*session);
    key_ = found->front();
    return {};
  }

  std::shared_ptr<Token::Impl> impl_;
  const KeyName name_;
  base::Bytes spki_;
  Session session_;
  CK_OBJECT_HANDLE key_;
};

// One attribute of an object, sized by a first call.
Result<base::Bytes> ReadAttribute(Token::Impl& impl, const Session& session,
                                  CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) {
  CK_ATTRIBUTE attribute = {type, nullptr, 0};
  CK_RV rv = impl.fl()->C_GetAttributeValue(session.get(), object, &attribute, 1);
  if (rv != CKR_OK) return std::unexpected(impl.FailedError("C_GetAttributeValue", rv));
  base::Bytes value(attribute.ulValueLen);
  attribute.pValue = value.data();
  rv = impl.fl()->C_GetAttributeValue(session.get(), object, &attribute, 1);
  if (rv != CKR_OK) return std::unexpected(impl.FailedError("C_GetAttributeValue", rv));
  value.resize(attribute.ulValueLen);
  return value;
}

}  // namespace

Result<std::unique_ptr<CaKey>> OpenTokenKey(std::shared_ptr<Token::Impl> impl, KeyName name) {
  std::shared_lock calls(impl->calls());
  auto session = impl->OpenUserSession(false);
  if (!session) {
    Error error = session.error();
    if (error.code == Code::kInvalidArgument && error.detail.find("C_Login") == std::string::npos) {
      error.code = Code::kUnavailable;  // the token was found at Open: it is failing now
    }
    return std::unexpected(error);
  }
  const std::string uri = FormatKeyUri(impl->uri(), name);
  auto private_keys = impl->FindObjects(*session, CKO_PRIVATE_KEY, name);
  if (!private_keys) return std::unexpected(private_keys.error());
  if (private_keys->size() != 1) {
    return Fail(Code::kInvalidArgument,
                (private_keys->empty() ? "no private key " : "several private keys match ") + uri);
  }
  auto public_keys = impl->FindObjects(*session, CKO_PUBLIC_KEY, name);
  if (!public_keys) return std::unexpected(public_keys.error());
  if (public_keys->size() != 1) {
    return Fail(Code::kInvalidArgument,
                (public_keys->empty() ? "no public key " : "several public keys match ") + uri);
  }
  auto point = ReadAttribute(*impl, *session, public_keys->front(), CKA_EC_POINT);
  if (!point) return std::unexpected(point.error());
  auto spki = SpkiFromEcPoint(std::move(*point));
  if (!spki) return Fail(Code::kInvalidArgument, spki.error().detail + " (" + uri + ")");
  const CK_OBJECT_HANDLE key = private_keys->front();
  return std::make_unique<TokenKey>(std::move(impl), std::move(name), std::move(*spki),
                                    std::move(*session), key);
}

}  // namespace ca::token
