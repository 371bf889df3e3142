// ca_rollover_key.cc — the new CA generation's key, in a file or in the current key's token
// (ca_rollover_key.h).
#include "daemon/ca_rollover_key.h"

#include <cctype>

#include "ca/keys.h"
#include "daemon/config.h"
#include "daemon/files.h"

namespace provisiond {
namespace {

constexpr size_t kKeyIdBytes = 16;

std::string Hex(const base::Bytes& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const unsigned char b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xF];
  }
  return out;
}

}  // namespace

std::string GenerationLabel(const std::string& current_label, int64_t gen) {
  std::string base = current_label;
  if (const size_t at = base.rfind("-gen"); at != std::string::npos && at + 4 < base.size()) {
    bool digits = true;
    for (size_t i = at + 4; i < base.size(); ++i) {
      digits = digits && std::isdigit(static_cast<unsigned char>(base[i])) != 0;
    }
    if (digits) base.erase(at);
  }
  if (base.empty()) base = "ca";
  return base + "-gen" + std::to_string(gen);
}

base::Result<std::unique_ptr<RolloverKey>> RolloverKey::Make(const CaKeySource& current,
                                                             const std::string& dir, int64_t gen,
                                                             ca::Rng rng) {
  std::unique_ptr<RolloverKey> made(new RolloverKey());
  const std::string prefix = "ca-gen" + std::to_string(gen) + "/";
  StatePaths paths(dir);
  if (current.token() == nullptr) {
    auto generated = ca::PrivateKey::GenerateP256(rng);
    if (!generated) return std::unexpected(ca::ToBaseError(generated.error()));
    auto pem = (*generated)->ToPem();
    if (!pem) return std::unexpected(ca::ToBaseError(pem.error()));
    auto key = ca::MakeFileCaKey(std::move(*generated));
    if (!key) return std::unexpected(ca::ToBaseError(key.error()));
    if (auto r = WriteNewFile(paths.ca_key, *pem, 0600); !r) return std::unexpected(r.error());
    made->key_ = std::move(*key);
    made->location_ = prefix + "ca.key";
    made->description_ = "file " + made->location_ + ", mode 0600";
    return made;
  }
  auto uri = ca::token::ParseUri(current.uri());
  if (!uri) return base::Fail(base::Code::kInvalidArgument, "ca-key-uri: " + uri.error().detail);
  if (uri->pin_source.empty()) {
    return base::Fail(base::Code::kInvalidArgument,
                      "the current CA key's URI names no pin-source: the new generation's "
                      "ca.key.uri would name no PIN (record pin-source=file:/path)");
  }
  made->token_ = current.shared_token();
  ca::token::Token& token = *made->token_;
  made->name_.label = GenerationLabel(uri->object, gen);
  made->name_.id.resize(kKeyIdBytes);
  if (rng.fill(rng.state, made->name_.id.data(), made->name_.id.size()) != 0) {
    return base::Fail(base::Code::kInternal, "the random generator failed (CKA_ID)");
  }
  // A key labelled so, whatever its id, is an interrupted rollover's: refused, so two keys never
  // share the label.
  auto taken = token.HasKey(ca::token::KeyName{.label = made->name_.label});
  if (!taken) return base::Fail(base::Code::kInvalidArgument, "token: " + taken.error().detail);
  if (*taken) {
    return base::Fail(base::Code::kInvalidArgument,
                      "the token already holds a key labelled " + made->name_.label +
                          " (left by an interrupted rollover? delete it: pkcs11-tool --login "
                          "--delete-object --type privkey --label " +
                          made->name_.label + ", and --type pubkey)");
  }
  if (auto r = token.GenerateKey(made->name_); !r) {
    return base::Fail(base::Code::kInvalidArgument, "token: " + r.error().detail);
  }
  uri->object = made->name_.label;
  uri->id = made->name_.id;
  const std::string text = ca::token::FormatUri(*uri);
  made->location_ = prefix + "ca.key.uri";
  made->description_ = "in the token: " + text;
  // From here on a failure destroys the pair again.
  auto fail = [&](base::Error error) -> base::Result<std::unique_ptr<RolloverKey>> {
    if (std::string left = made->Discard(); !left.empty()) error.detail += "; " + left;
    return std::unexpected(std::move(error));
  };
  auto key = token.OpenKey(made->name_);
  if (!key) return fail(base::Error{base::Code::kInvalidArgument, "token: " + key.error().detail});
  made->key_ = std::move(*key);
  if (auto r = WriteNewFile(paths.ca_key_uri, text + "\n", 0644); !r) return fail(r.error());
  return made;
}

std::string RolloverKey::Discard() {
  if (!token_) return "";
  key_.reset();  // its session first
  auto destroyed = token_->DestroyKey(name_);
  if (destroyed) return "";
  return "the new key pair (label " + name_.label + ", id " + Hex(name_.id) +
         ") is left in the token: " + destroyed.error().detail +
         "; delete it with pkcs11-tool --login --delete-object --type privkey --id " +
         Hex(name_.id) + ", and --type pubkey";
}

}  // namespace provisiond
