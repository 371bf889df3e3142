// cdp.cc — encodes and reads the CRL distribution points extension (see cdp.h).
#include "ca/cdp.h"

#include <mbedtls/asn1.h>
#include <mbedtls/asn1write.h>
#include <mbedtls/oid.h>

#include <cstring>

namespace ca {
namespace {

constexpr int kSequence = MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE;
constexpr int kContext0 = MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0;
constexpr int kUriTag = MBEDTLS_ASN1_CONTEXT_SPECIFIC | 6;  // GeneralName uniformResourceIdentifier

int WrapIn(unsigned char** p, unsigned char* start, size_t len, int tag) {
  int ret = 0;
  size_t added = 0;
  MBEDTLS_ASN1_CHK_ADD(added, mbedtls_asn1_write_len(p, start, len));
  MBEDTLS_ASN1_CHK_ADD(added, mbedtls_asn1_write_tag(p, start, static_cast<unsigned char>(tag)));
  return static_cast<int>(added);
}

int WriteCdp(unsigned char** p, unsigned char* start, const std::vector<std::string>& urls) {
  int ret = 0;
  size_t len = 0;
  for (size_t i = urls.size(); i-- > 0;) {  // backwards writer: last URL first
    const auto* text = reinterpret_cast<const unsigned char*>(urls[i].data());
    size_t one = 0;
    MBEDTLS_ASN1_CHK_ADD(one, mbedtls_asn1_write_raw_buffer(p, start, text, urls[i].size()));
    MBEDTLS_ASN1_CHK_ADD(one, WrapIn(p, start, one, kUriTag));
    len += one;
  }
  MBEDTLS_ASN1_CHK_ADD(len, WrapIn(p, start, len, kContext0));  // fullName [0] GeneralNames
  MBEDTLS_ASN1_CHK_ADD(len, WrapIn(p, start, len, kContext0));  // distributionPoint [0]
  MBEDTLS_ASN1_CHK_ADD(len, WrapIn(p, start, len, kSequence));  // DistributionPoint
  MBEDTLS_ASN1_CHK_ADD(len, WrapIn(p, start, len, kSequence));  // CRLDistributionPoints
  return static_cast<int>(len);
}

// Parses the extension value (cdp.h: the one shape we write) into out->urls.
Result<void> ParseValue(unsigned char* p, const unsigned char* end, CrlDistribution* out) {
  auto bad = [](const char* what) {
    return Fail(Code::kMalformed, std::string("cRLDistributionPoints: ") + what);
  };
  size_t len = 0;
  if (mbedtls_asn1_get_tag(&p, end, &len, kSequence) != 0 || p + len != end)
    return bad("not a SEQUENCE");
  while (p < end) {
    if (mbedtls_asn1_get_tag(&p, end, &len, kSequence) != 0) return bad("bad DistributionPoint");
    const unsigned char* dp_end = p + len;
    if (mbedtls_asn1_get_tag(&p, dp_end, &len, kContext0) != 0) return bad("no distributionPoint");
    if (p + len != dp_end) return bad("reasons or cRLIssuer present");
    if (mbedtls_asn1_get_tag(&p, dp_end, &len, kContext0) != 0 || p + len != dp_end) {
      return bad("not a fullName");
    }
    while (p < dp_end) {
      if (mbedtls_asn1_get_tag(&p, dp_end, &len, kUriTag) != 0)
        return bad("a name other than a URI");
      out->urls.emplace_back(reinterpret_cast<const char*>(p), len);
      p += len;
    }
  }
  if (out->urls.empty()) return bad("no URI");
  return {};
}

}  // namespace

bool IsValidCrlUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.size() <= kScheme.size() || url.size() > kMaxCrlUrlBytes) return false;
  if (url.substr(0, kScheme.size()) != kScheme) return false;
  for (char c : url) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

Result<base::Bytes> EncodeCrlDistributionPoints(const std::vector<std::string>& urls) {
  if (urls.empty() || urls.size() > kMaxCrlUrls) {
    return Fail(Code::kInvalidArgument, "CRL URLs: want 1.." + std::to_string(kMaxCrlUrls) +
                                            ", got " + std::to_string(urls.size()));
  }
  for (const auto& url : urls) {
    if (!IsValidCrlUrl(url))
      return Fail(Code::kInvalidArgument, "CRL URL is not http://<printable ASCII>: " + url);
  }
  base::Bytes buf(kMaxCrlUrls * (kMaxCrlUrlBytes + 4) + 32);
  unsigned char* p = buf.data() + buf.size();
  int ret = WriteCdp(&p, buf.data(), urls);
  if (ret < 0) return Fail(Code::kCrypto, MbedtlsError("writing cRLDistributionPoints", ret));
  return base::Bytes(p, buf.data() + buf.size());
}

Result<CrlDistribution> ReadCrlDistributionPoints(const mbedtls_x509_crt& crt) {
  CrlDistribution out;
  unsigned char* p = crt.v3_ext.p;
  if (p == nullptr) return out;
  const unsigned char* const end = p + crt.v3_ext.len;
  size_t len = 0;
  if (mbedtls_asn1_get_tag(&p, end, &len, kSequence) != 0) return out;  // mbedTLS validated it
  while (p < end) {
    if (mbedtls_asn1_get_tag(&p, end, &len, kSequence) != 0)
      return Fail(Code::kMalformed, "extensions");
    unsigned char* const next = p + len;
    if (mbedtls_asn1_get_tag(&p, next, &len, MBEDTLS_ASN1_OID) != 0)
      return Fail(Code::kMalformed, "extension OID");
    const bool match = len == MBEDTLS_OID_SIZE(MBEDTLS_OID_CRL_DISTRIBUTION_POINTS) &&
                       std::memcmp(p, MBEDTLS_OID_CRL_DISTRIBUTION_POINTS, len) == 0;
    p += len;
    if (!match) {
      p = next;
      continue;
    }
    int critical = 0;
    if (p < next && *p == MBEDTLS_ASN1_BOOLEAN && mbedtls_asn1_get_bool(&p, next, &critical) != 0) {
      return Fail(Code::kMalformed, "cRLDistributionPoints: bad critical flag");
    }
    if (mbedtls_asn1_get_tag(&p, next, &len, MBEDTLS_ASN1_OCTET_STRING) != 0 || p + len != next) {
      return Fail(Code::kMalformed, "cRLDistributionPoints: bad extnValue");
    }
    out.present = true;
    out.critical = critical != 0;
    if (auto ok = ParseValue(p, next, &out); !ok) return std::unexpected(ok.error());
    return out;
  }
  return out;
}

std::string CrlUrlForGeneration(std::string_view url, int64_t gen) {
  if (gen <= 1) return std::string(url);
  const size_t scheme = url.find("://");
  const size_t host_from = scheme == std::string_view::npos ? 0 : scheme + 3;
  size_t path_end = url.find_first_of("?#", host_from);
  if (path_end == std::string_view::npos) path_end = url.size();
  const size_t slash = url.rfind('/', path_end == 0 ? 0 : path_end - 1);
  if (slash == std::string_view::npos || slash < host_from) {  // no path: the listener's own
    return std::string(url.substr(0, path_end)) + "/crl-gen" + std::to_string(gen) +
           std::string(url.substr(path_end));
  }
  const size_t segment = slash + 1;
  size_t at = path_end;
  const size_t dot = url.substr(0, path_end).rfind('.');
  if (dot != std::string_view::npos && dot > segment) at = dot;
  std::string out(url.substr(0, at));
  out += "-gen" + std::to_string(gen);
  out += url.substr(at);
  return out;
}

std::vector<std::string> CrlUrlsForGeneration(const std::vector<std::string>& urls, int64_t gen) {
  std::vector<std::string> out;
  out.reserve(urls.size());
  for (const std::string& url : urls) out.push_back(CrlUrlForGeneration(url, gen));
  return out;
}

}  // namespace ca
