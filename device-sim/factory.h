// factory.h — plays the manufacturer: a factory CA and one bootstrap identity per device, written
// into a fleet directory (layout.h). Some kinds are deliberately bad, to exercise the daemon's
// checks.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/types.h"
#include "ca/rng.h"
#include "ca/signer.h"

namespace devsim {

enum class BootstrapKind {
  kGood,         // CN=<id>, KU digitalSignature, EKU clientAuth, CA:FALSE, valid 10 years
  kExpired,      // notBefore 2 years ago, notAfter 1 day ago
  kNotYetValid,  // notBefore 1 year from now
  kNoClientEku,  // EKU serverAuth only
  kCaLeaf,       // basicConstraints CA:TRUE
};

// "good", "expired", "not-yet-valid", "no-client-eku", "ca-leaf"; nullopt for anything else.
std::optional<BootstrapKind> ParseBootstrapKind(std::string_view name);

struct FactoryOptions {
  std::string out_dir;
  int count = 0;
  std::string prefix = "dev-";
  int start = 1;
  BootstrapKind kind = BootstrapKind::kGood;
  std::string ca_name = "Example Factory CA";
};

struct FactoryReport {
  bool ca_created = false;  // false: the existing factory CA was reused
  int created = 0;          // devices written by this run
  int existing = 0;         // devices whose directory already existed (left untouched)
};

// What a bootstrap certificate of `kind` for `id` looks like (subject, validity, extensions);
// the caller sets the serial. Also used by enroll's rogue-ca and expired scenarios.
ca::CertSpec BootstrapSpec(std::string_view id, BootstrapKind kind, base::UnixTime now);

// "<prefix><number zero-padded to 5 digits>", e.g. DeviceId("dev-", 1) == "dev-00001".
std::string DeviceId(std::string_view prefix, int number);

// Creates out_dir (0700) and the factory CA if absent, then devices start..start+count-1.
// `now` is the wall clock; `rng` is used for keys, serials and signatures.
// kInvalidArgument for bad options or ids, kIo for file problems (including a half-present CA or
// a device directory without bootstrap.crt), kMalformed if an existing CA does not parse.
base::Result<FactoryReport> RunFactory(const FactoryOptions& options, base::UnixTime now,
                                       ca::Rng rng);

}  // namespace devsim
