// profiles.cc — parses certificate-profile options (see profiles.h).
#include "daemon/profiles.h"

#include <charconv>

#include "daemon/cli_checks.h"
#include "ca/cdp.h"
#include "ca/encoding.h"
#include "ca/keys.h"
#include "daemon/files.h"

namespace provisiond {

void AddProfileOptions(CLI::App* app, ProfileOptions& p) {
  // X.520 upper bounds: 64 characters for O and OU.
  app->add_option("--org", p.organization, "O= in issued subjects (omitted if empty)")
      ->check(CLI::Validator([](std::string& v) { return v.size() > 64 ? "longer than 64" : ""; },
                             "TEXT"));
  app->add_option("--ou", p.organizational_unit, "OU= in issued subjects (omitted if empty)")
      ->check(CLI::Validator([](std::string& v) { return v.size() > 64 ? "longer than 64" : ""; },
                             "TEXT"));
  app->add_option("--validity-days", p.validity_days, "lifetime of issued certificates")
      ->check(CLI::Range(1, 3650))
      ->capture_default_str();
  app->add_option("--san-uri-prefix", p.san_uri_prefix,
                  "issued SAN is URI:<prefix><percent-encoded device id>")
      ->check(NonEmptyText())
      ->capture_default_str();
  app->add_option("--crl-url", p.crl_urls,
                  "http:// URL of the CRL, written as a CRL distribution point into every "
                  "operational certificate issued from then on (repeatable, at most 4; "
                  "default: none); CA generation N >= 2 writes it with -genN (/crl-genN)")
      ->check(CLI::Validator(
          [](std::string& v) {
            return ca::IsValidCrlUrl(v) ? "" : "want http://<printable ASCII, no spaces>";
          },
          "URL"));
  app->add_option("--profile", p.labeled,
                  "extra profile served under /.well-known/est/<label>/: "
                  "label=NAME[,o=ORG][,ou=UNIT][,days=N][,allow=CA-FILE|any ...]; only "
                  "bootstrap certificates whose chain ends at a CA in an allow= file (or any "
                  "trusted CA with allow=any) may enroll there; none listed = nobody");
}

namespace {

struct Labeled {
  std::string label;
  ca::Profile profile;
  ProfileRule rule;
};

// allow=any, or allow=FILE: every certificate in FILE (PEM or DER) becomes an allowed anchor,
// matched by the SHA-256 of its SubjectPublicKeyInfo.
base::Result<void> AddAllowed(const std::string& value, ProfileRule& rule) {
  if (value == "any") {
    rule.any_anchor = true;
    return {};
  }
  auto data = ReadFile(value);
  if (!data)
    return base::Fail(base::Code::kInvalidArgument,
                      "--profile allow=" + value + ": " + data.error().detail);
  auto chain = ca::ParseCertificates(*data);
  if (!chain)
    return base::Fail(base::Code::kInvalidArgument,
                      "--profile allow=" + value + ": " + chain.error().detail);
  for (const mbedtls_x509_crt* c = (*chain)->get(); c != nullptr && c->raw.len > 0; c = c->next) {
    auto key = ca::PublicKeyDer(c->pk);
    if (!key) return std::unexpected(ca::ToBaseError(key.error()));
    rule.anchor_key_sha256.insert(ca::Sha256Hex(*key));
  }
  return {};
}

base::Result<Labeled> ParseLabeled(const std::string& spec, const ca::Profile& base) {
  ca::Profile profile = base;
  ProfileRule rule;
  std::string label;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    std::string item = spec.substr(start, comma == std::string::npos ? std::string::npos
                                                                     : comma - start);
    size_t eq = item.find('=');
    if (eq == std::string::npos)
      return base::Fail(base::Code::kInvalidArgument,
                        "--profile '" + spec + "': want label=NAME[,o=ORG][,ou=UNIT][,days=N]");
    std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "label") {
      label = value;
    } else if (key == "o") {
      profile.organization = value;
    } else if (key == "ou") {
      profile.organizational_unit = value;
    } else if (key == "days") {
      int days = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), days);
      if (ec != std::errc() || p != value.data() + value.size() || days < 1 || days > 3650) {
        return base::Fail(base::Code::kInvalidArgument, "--profile days must be 1..3650: " + spec);
      }
      profile.validity_seconds = static_cast<base::UnixTime>(days) * 86400;
    } else if (key == "allow") {
      if (auto ok = AddAllowed(value, rule); !ok) return std::unexpected(ok.error());
    } else {
      return base::Fail(base::Code::kInvalidArgument, "--profile: unknown key '" + key + "'");
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  const bool label_ok = !label.empty() && label.find_first_not_of(
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == std::string::npos;
  static const char* kOps[] = {"cacerts", "csrattrs", "simpleenroll", "simplereenroll"};
  for (const char* op : kOps) {
    if (label == op)
      return base::Fail(base::Code::kInvalidArgument, "--profile label is an EST op");
  }
  if (!label_ok) {
    return base::Fail(base::Code::kInvalidArgument,
                      "--profile needs label=[A-Za-z0-9._-]+: " + spec);
  }
  return Labeled{label, profile, std::move(rule)};
}

}  // namespace

base::Result<void> ApplyProfileOptions(const ProfileOptions& p, ServeConfig& config) {
  config.default_profile.organization = p.organization;
  config.default_profile.organizational_unit = p.organizational_unit;
  config.default_profile.validity_seconds = static_cast<base::UnixTime>(p.validity_days) * 86400;
  config.default_profile.san_uri_prefix = p.san_uri_prefix;
  if (p.crl_urls.size() > ca::kMaxCrlUrls) {
    return base::Fail(base::Code::kInvalidArgument,
                      "--crl-url given more than " + std::to_string(ca::kMaxCrlUrls) + " times");
  }
  config.default_profile.crl_urls = p.crl_urls;
  for (const auto& spec : p.labeled) {
    auto parsed = ParseLabeled(spec, config.default_profile);
    if (!parsed) return std::unexpected(parsed.error());
    if (!config.labeled_profiles.emplace(parsed->label, parsed->profile).second) {
      return base::Fail(base::Code::kInvalidArgument, "--profile label repeated: " + parsed->label);
    }
    config.profile_rules[parsed->label] = std::move(parsed->rule);
  }
  return {};
}

}  // namespace provisiond
