// relying_party.h — device-sim's relying-party check (`device-sim relying-party`): what an MQTT
// broker or API gateway does with a device's operational certificate. For each device it reads the
// CRL distribution point URL from the certificate, fetches that CRL over plain HTTP (bounded: a
// deadline, a response size cap), and verifies the certificate against the CA and the CRL with
// mbedTLS (mbedtls_x509_crt_verify), counting the devices refused.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"

namespace devsim {

inline constexpr size_t kMaxCrlResponseBytes = 32u << 20;  // a 100,000-entry CRL is ~4 MB

struct RelyingPartyOptions {
  std::string fleet_dir;
  std::string ca_bundle_path;        // the issuing CA (PEM)
  std::vector<std::string> devices;  // empty: every device with an operational certificate
  double timeout_seconds = 5;        // per CRL fetch
};

struct RelyingPartyReport {
  int checked = 0;
  int accepted = 0;
  int revoked = 0;        // refused: listed on the CRL
  int refused_other = 0;  // refused: another verification failure (chain, expiry, CRL untrusted)
  int no_crl_url = 0;     // refused: the certificate names no CRL distribution point
  int fetch_failed = 0;   // refused: the CRL could not be fetched or parsed (fail closed)
  std::vector<std::string> refused_lines;  // "device-7 revoked", one per refusal
};

// One CRL fetch per distinct URL per run. kInvalidArgument / kIo for setup errors (no CA, no
// fleet).
base::Result<RelyingPartyReport> RunRelyingParty(const RelyingPartyOptions& options);

// A CRL from an http:// URL (numeric or named host, optional port, path). kInvalidArgument for
// another URL, kIo for a network failure or deadline, kMalformed for a bad or non-200 response.
base::Result<std::string> FetchCrl(const std::string& url, double timeout_seconds);

}  // namespace devsim
