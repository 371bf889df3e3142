// cdp.h — the CRL distribution points extension (RFC 5280 §4.2.1.13) of operational certificates:
// encoding the configured URLs, and reading them back from a parsed certificate (lint, relying
// parties).
#pragma once

#include <mbedtls/x509_crt.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/types.h"
#include "ca/error.h"

namespace ca {

// At most this many URLs, each at most kMaxCrlUrlBytes: the whole extension stays far below a TBS's
// kMaxTbsBytes.
inline constexpr size_t kMaxCrlUrls = 4;
inline constexpr size_t kMaxCrlUrlBytes = 256;

// Whether url is one we write: "http://" then 1..kMaxCrlUrlBytes printable ASCII without spaces
// (an IA5String; RFC 5280 asks relying parties to fetch CRLs over plain HTTP, the CRL being
// signed).
bool IsValidCrlUrl(std::string_view url);

// The extension's value: CRLDistributionPoints ::= SEQUENCE OF DistributionPoint, here exactly one
// DistributionPoint { distributionPoint [0] { fullName [0] GeneralNames { [6] URI ... } } } naming
// every URL (alternative addresses of the same CRL). kInvalidArgument for no URL, too many, or a
// URL IsValidCrlUrl refuses.
Result<base::Bytes> EncodeCrlDistributionPoints(const std::vector<std::string>& urls);

// The URL of CA generation gen's CRL (#19 part 3, docs/rollover.md): generation 1 keeps `url`
// (certificates issued before any rollover stay right); generation N >= 2 gets "-genN" inserted
// at the end of the URL's last path segment, before its extension if it has one, and before any
// query: "http://h/crl" -> "http://h/crl-gen2", "http://h/ca.crl" -> "http://h/ca-gen2.crl"; a URL
// without a path gets the listener's "/crl-genN".
// serve's CRL listener answers those paths (daemon/crl_http.h).
std::string CrlUrlForGeneration(std::string_view url, int64_t gen);
std::vector<std::string> CrlUrlsForGeneration(const std::vector<std::string>& urls, int64_t gen);

struct CrlDistribution {
  bool present = false;
  bool critical = false;
  std::vector<std::string> urls;  // the URIs of every fullName, in order
};

// Reads the extension from crt.v3_ext (mbedTLS 3.6 does not parse it). kMalformed if it is present
// but is not the structure above (reasons, cRLIssuer, nameRelativeToCRLIssuer or a GeneralName
// other than a URI are refused too: we never write them).
Result<CrlDistribution> ReadCrlDistributionPoints(const mbedtls_x509_crt& crt);

}  // namespace ca
