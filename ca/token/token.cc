// token.cc — Token: loading the module, finding the token, the one login, and the key pairs'
// life in the token (HasKey, GenerateKey, DestroyKey); signing is token_key.cc's.
#include "ca/token/token.h"

#include "ca/token/ckr.h"
#include "ca/token/impl.h"

namespace ca::token {
namespace {

// DER of the OID prime256v1 (1.2.840.10045.3.1.7): CKA_EC_PARAMS of a P-256 key.
constexpr unsigned char kP256Params[] = {0x06, 0x08, 0x2A, 0x86, 0x48,
                                         0xCE, 0x3D, 0x03, 0x01, 0x07};

// Errors while looking at the token: a lost session is "try again later", a missing token too
// once it has been found before.
Error AsUnavailable(Error error) {
  if (error.code != Code::kInvalidArgument) return error;
  return Error{Code::kUnavailable, std::move(error.detail)};
}

// A name that matches nothing in particular would match every key in the token.
Result<void> CheckName(const KeyName& key) {
  if (key.label.empty() && key.id.empty()) {
    return Fail(Code::kInvalidArgument, "a token key needs a label or an id");
  }
  return {};
}

}  // namespace

KeyName KeyNameOf(const Pkcs11Uri& uri) { return KeyName{uri.object, uri.id}; }

std::string FormatKeyUri(const Pkcs11Uri& uri, const KeyName& key) {
  Pkcs11Uri named = uri;
  named.object = key.label;
  named.id = key.id;
  return FormatUri(named);
}

Token::Token(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Token::~Token() = default;

Result<std::shared_ptr<Token>> Token::Open(const Pkcs11Uri& uri, base::Secret pin) {
  auto module = Module::Load(ModulePath(uri));
  if (!module) return std::unexpected(module.error());
  auto impl = std::make_unique<Impl>(std::move(*module), uri, std::move(pin));
  auto session = impl->OpenUserSession(false);
  if (!session) return std::unexpected(session.error());
  impl->KeepLogin(std::move(*session));
  return std::shared_ptr<Token>(new Token(std::move(impl)));
}

Result<bool> Token::HasKey(const KeyName& key) {
  if (auto r = CheckName(key); !r) return std::unexpected(r.error());
  std::shared_lock calls(impl_->calls());
  auto session = impl_->OpenUserSession(false);
  if (!session) return std::unexpected(AsUnavailable(session.error()));
  auto found = impl_->FindObjects(*session, CKO_PRIVATE_KEY, key);
  if (!found) return std::unexpected(found.error());
  return !found->empty();
}

Result<void> Token::GenerateKey(const KeyName& key) {
  if (auto r = CheckName(key); !r) return std::unexpected(r.error());
  std::shared_lock calls(impl_->calls());
  auto session = impl_->OpenUserSession(true);
  if (!session) return std::unexpected(AsUnavailable(session.error()));
  for (const CK_OBJECT_CLASS cls : {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY}) {
    auto found = impl_->FindObjects(*session, cls, key);
    if (!found) return std::unexpected(found.error());
    if (!found->empty()) {
      return Fail(Code::kInvalidArgument,
                  "the token already holds a key " + FormatKeyUri(impl_->uri(), key));
    }
  }
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_KEY_TYPE key_type = CKK_EC;
  std::vector<CK_ATTRIBUTE> name;
  if (!key.label.empty()) {
    name.push_back({CKA_LABEL, const_cast<char*>(key.label.data()), key.label.size()});
  }
  if (!key.id.empty()) {
    name.push_back({CKA_ID, const_cast<unsigned char*>(key.id.data()), key.id.size()});
  }
  std::vector<CK_ATTRIBUTE> public_template = {
      {CKA_TOKEN, &yes, sizeof yes},
      {CKA_PRIVATE, &no, sizeof no},
      {CKA_KEY_TYPE, &key_type, sizeof key_type},
      {CKA_VERIFY, &yes, sizeof yes},
      {CKA_ENCRYPT, &no, sizeof no},
      {CKA_WRAP, &no, sizeof no},
      {CKA_DERIVE, &no, sizeof no},
      {CKA_EC_PARAMS, const_cast<unsigned char*>(kP256Params), sizeof kP256Params}};
  std::vector<CK_ATTRIBUTE> private_template = {{CKA_TOKEN, &yes, sizeof yes},
                                                {CKA_PRIVATE, &yes, sizeof yes},
                                                {CKA_KEY_TYPE, &key_type, sizeof key_type},
                                                {CKA_SENSITIVE, &yes, sizeof yes},
                                                {CKA_EXTRACTABLE, &no, sizeof no},
                                                {CKA_SIGN, &yes, sizeof yes},
                                                {CKA_DECRYPT, &no, sizeof no},
                                                {CKA_DERIVE, &no, sizeof no},
                                                {CKA_UNWRAP, &no, sizeof no}};
  public_template.insert(public_template.end(), name.begin(), name.end());
  private_template.insert(private_template.end(), name.begin(), name.end());
  CK_MECHANISM mechanism = {CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  CK_OBJECT_HANDLE public_key = 0, private_key = 0;
  const CK_RV rv = impl_->fl()->C_GenerateKeyPair(
      session->get(), &mechanism, public_template.data(), public_template.size(),
      private_template.data(), private_template.size(), &public_key, &private_key);
  if (rv != CKR_OK) {
    Error error = impl_->FailedError("C_GenerateKeyPair", rv);
    if (!IsSessionFailure(rv)) error.code = Code::kInvalidArgument;  // the token refuses the key
    return std::unexpected(error);
  }
  return {};
}

Result<void> Token::DestroyKey(const KeyName& key) {
  if (auto r = CheckName(key); !r) return std::unexpected(r.error());
  std::shared_lock calls(impl_->calls());
  auto session = impl_->OpenUserSession(true);
  if (!session) return std::unexpected(AsUnavailable(session.error()));
  for (const CK_OBJECT_CLASS cls : {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY}) {
    // FindObjects returns at most two at a time; a name matches a pair, rarely more.
    bool gone = false;
    for (int round = 0; round < 8 && !gone; ++round) {
      auto found = impl_->FindObjects(*session, cls, key);
      if (!found) return std::unexpected(found.error());
      gone = found->empty();
      for (const CK_OBJECT_HANDLE object : *found) {
        const CK_RV rv = impl_->fl()->C_DestroyObject(session->get(), object);
        if (rv != CKR_OK) return std::unexpected(impl_->FailedError("C_DestroyObject", rv));
      }
    }
    if (!gone) {
      return Fail(Code::kUnavailable, "objects of " + FormatKeyUri(impl_->uri(), key) +
                                          " remain after C_DestroyObject");
    }
  }
  return {};
}

Result<std::unique_ptr<CaKey>> Token::OpenKey(const KeyName& key) {
  if (auto r = CheckName(key); !r) return std::unexpected(r.error());
  return OpenTokenKey(impl_, key);
}

const Pkcs11Uri& Token::uri() const { return impl_->uri(); }

Token::Stats Token::stats() const { return impl_->stats(); }

}  // namespace ca::token
