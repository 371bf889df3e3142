// ca_key_source.cc — opens the state dir's CA key, from ca.key or a PKCS#11 token, and hands
// each signing thread a CaKey of its own (see ca_key_source.h).
#include "daemon/ca_key_source.h"

#include <filesystem>

#include "daemon/files.h"

namespace provisiond {
namespace {

base::Result<std::string> RecordedUri(const StatePaths& paths, const CaKeyOptions& options) {
  if (!options.uri.empty()) return options.uri;
  auto text = ReadFile(paths.ca_key_uri, 4096);
  if (!text) return std::unexpected(text.error());
  while (!text->empty() && (text->back() == '\n' || text->back() == '\r')) text->pop_back();
  return *text;
}

}  // namespace

base::Result<ca::token::Pkcs11Uri> ParseKeyUri(const std::string& text, bool allow_pin_value) {
  auto uri = ca::token::ParseUri(text);
  if (!uri) return base::Fail(base::Code::kInvalidArgument, "ca-key-uri: " + uri.error().detail);
  if (uri->pin_value && !allow_pin_value) {
    return base::Fail(base::Code::kInvalidArgument,
                      "ca-key-uri: pin-value puts the PIN where the URI is written (argv, a "
                      "config file); use pin-source=file:/path (0600), or --allow-pin-value");
  }
  if (!uri->pin_value && uri->pin_source.empty()) {
    return base::Fail(base::Code::kInvalidArgument,
                      "ca-key-uri: no PIN named; add pin-source=file:/path (a 0600 file)");
  }
  return *uri;
}

base::Result<std::unique_ptr<CaKeySource>> CaKeySource::OpenToken(
    const CaKeyOptions& options, std::shared_ptr<ca::token::TokenSet> tokens) {
  auto uri = ParseKeyUri(options.uri, options.allow_pin_value);
  if (!uri) return std::unexpected(uri.error());
  if (!tokens) tokens = std::make_shared<ca::token::TokenSet>();
  // Read only when the module is not open yet: a later generation's key shares the login.
  auto pin = [&]() -> ca::Result<base::Secret> {
    auto secret =
        uri->pin_value ? base::Secret::From(*uri->pin_value) : ReadPinFile(uri->pin_source);
    if (!secret) return ca::Fail(ca::Code::kInvalidArgument, "token PIN: " + secret.error().detail);
    return std::move(*secret);
  };
  auto token = tokens->Open(*uri, pin);
  if (!token) return base::Fail(base::Code::kInvalidArgument, token.error().detail);
  std::unique_ptr<CaKeySource> source(new CaKeySource());
  source->tokens_ = std::move(tokens);
  source->token_ = std::move(*token);
  source->key_name_ = ca::token::KeyNameOf(*uri);
  source->uri_ = ca::token::FormatUri(*uri);
  source->description_ = "pkcs11 module " + ca::token::ModulePath(*uri) + " " + source->uri_;
  return source;
}

base::Result<std::unique_ptr<CaKeySource>> CaKeySource::Open(
    const StatePaths& paths, const CaKeyOptions& options, ca::Rng rng,
    std::shared_ptr<ca::token::TokenSet> tokens) {
  std::error_code ec;
  const bool has_file = std::filesystem::exists(paths.ca_key, ec);
  const bool has_uri = std::filesystem::exists(paths.ca_key_uri, ec);
  if (has_file && has_uri) {
    return base::Fail(base::Code::kInvalidArgument,
                      paths.ca_key + " and " + paths.ca_key_uri + " both exist: keep one");
  }
  if (has_uri || !options.uri.empty()) {
    if (has_file) {
      return base::Fail(base::Code::kInvalidArgument,
                        "--ca-key-uri given but the CA key is the file " + paths.ca_key);
    }
    auto text = RecordedUri(paths, options);
    if (!text) return std::unexpected(text.error());
    CaKeyOptions named = options;
    named.uri = *text;
    auto source = OpenToken(named, std::move(tokens));
    if (!source) return source;
    // The key must be there now: a start without it would only answer 503.
    if (auto key = (*source)->NewKey(rng); !key) return std::unexpected(key.error());
    return source;
  }
  std::unique_ptr<CaKeySource> source(new CaKeySource());
  source->tokens_ = tokens ? std::move(tokens) : std::make_shared<ca::token::TokenSet>();
  auto pem = ReadFile(paths.ca_key);
  if (!pem) return std::unexpected(pem.error());
  // Parsed once here so a bad key is refused at start, not by the first worker.
  if (auto key = ca::LoadFileCaKey(*pem, rng); !key) {
    return base::Fail(base::Code::kInvalidArgument, paths.ca_key + ": " + key.error().detail);
  }
  source->key_pem_ = std::move(*pem);
  source->description_ = "file " + paths.ca_key;
  return source;
}

CaKeySource::~CaKeySource() = default;

base::Result<std::unique_ptr<ca::CaKey>> CaKeySource::NewKey(ca::Rng rng) {
  if (token_) {
    auto key = token_->OpenKey(key_name_);
    if (!key) {  // a key or PIN the token does not take is a config error; the rest, an outage
      const bool config = key.error().code == ca::Code::kInvalidArgument;
      return base::Fail(config ? base::Code::kInvalidArgument : base::Code::kIo,
                        "CA key: " + key.error().detail);
    }
    return std::move(*key);
  }
  auto key = ca::LoadFileCaKey(key_pem_, rng);
  if (!key) return std::unexpected(ca::ToBaseError(key.error()));
  return std::move(*key);
}

}  // namespace provisiond
