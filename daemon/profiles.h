// profiles.h — certificate-profile options: the default profile and labelled ones
// (/.well-known/est/<label>/...), e.g. --profile "label=line-a,o=Acme,ou=Line A,days=365".
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "base/error.h"
#include "daemon/config.h"

namespace provisiond {

struct ProfileOptions {
  std::string organization;
  std::string organizational_unit;
  int validity_days = 90;
  std::string san_uri_prefix = "urn:provisiond:device:";
  std::vector<std::string> labeled;  // "label=NAME,o=..,ou=..,days=N"
  std::vector<std::string> crl_urls;  // --crl-url: cRLDistributionPoints of every profile
};

void AddProfileOptions(CLI::App* app, ProfileOptions& p);

// Fills config.default_profile and config.labeled_profiles. kInvalidArgument names the bad value.
base::Result<void> ApplyProfileOptions(const ProfileOptions& p, ServeConfig& config);

}  // namespace provisiond
