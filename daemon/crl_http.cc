// crl_http.cc — the CRL listener's answers (see crl_http.h).
#include "daemon/crl_http.h"

#include <ctime>

#include "daemon/retry_after.h"
#include "daemon/side_http.h"

namespace provisiond {
namespace {

constexpr std::string_view kText = "text/plain; charset=utf-8";

// If-None-Match: "*" or a comma-separated list of entity tags (weak ones compared weakly).
bool EtagMatches(std::string_view header, std::string_view etag) {
  size_t pos = 0;
  while (pos <= header.size()) {
    size_t comma = header.find(',', pos);
    std::string_view item = header.substr(pos, comma == header.npos ? header.npos : comma - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.rfind("W/", 0) == 0) item.remove_prefix(2);
    if (item == "*" || item == etag) return true;
    if (comma == header.npos) break;
    pos = comma + 1;
  }
  return false;
}

std::string Validators(const PublishedCrl& crl, base::UnixTime now) {
  const base::UnixTime max_age = crl.next_regeneration > now ? crl.next_regeneration - now : 0;
  return "ETag: " + crl.etag + "\r\nLast-Modified: " + HttpDate(crl.this_update) +
         "\r\nCache-Control: public, max-age=" + std::to_string(max_age) + "\r\n";
}

bool NotModified(std::string_view head, const PublishedCrl& crl) {
  if (auto inm = SideHeader(head, "If-None-Match")) return EtagMatches(*inm, crl.etag);
  if (auto ims = SideHeader(head, "If-Modified-Since")) {
    auto since = ParseHttpDate(*ims);
    return since && crl.this_update <= *since;
  }
  return false;
}

}  // namespace

std::string HttpDate(base::UnixTime t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buf, n);
}

std::optional<base::UnixTime> ParseHttpDate(std::string_view text) {
  if (text.size() != 29) return std::nullopt;
  std::string copy(text);
  std::tm tm{};
  const char* end = strptime(copy.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return static_cast<base::UnixTime>(timegm(&tm));
}

std::optional<int64_t> CrlPathGeneration(std::string_view path, bool* pem) {
  *pem = path.ends_with(".pem");
  if (*pem) path.remove_suffix(4);
  if (path == "/crl") return 1;
  constexpr std::string_view kPrefix = "/crl-gen";
  if (!path.starts_with(kPrefix)) return std::nullopt;
  path.remove_prefix(kPrefix.size());
  // Digits only, no leading zero, at most 18: "/crl-gen02" is another path.
  if (path.empty() || path.size() > 18 || path.front() == '0') return std::nullopt;
  int64_t gen = 0;
  for (char c : path) {
    if (c < '0' || c > '9') return std::nullopt;
    gen = gen * 10 + (c - '0');
  }
  if (gen < 2) return std::nullopt;
  return gen;
}

std::string AnswerCrlRequest(std::string_view head, const PublishedCrl* crl, base::UnixTime now) {
  // Not owned: the caller's CRL outlives this call (an aliasing pointer with no control block).
  return AnswerCrlRequest(head, CrlsByGen{{1, std::shared_ptr<const PublishedCrl>(
                                                  std::shared_ptr<void>(), crl)}},
                          now);
}

std::string AnswerCrlRequest(std::string_view head, const CrlsByGen& crls, base::UnixTime now) {
  auto request = ParseSideRequest(head);
  if (!request) return SideResponse(400, "Bad Request", kText, "bad request\n", false, "");
  const bool head_only = request->method == "HEAD";
  if (request->method != "GET" && !head_only) {
    return SideResponse(405, "Method Not Allowed", kText, "GET or HEAD only\n", false,
                        "Allow: GET, HEAD\r\n");
  }
  bool pem = false;
  const auto gen = CrlPathGeneration(request->path, &pem);
  const auto found = gen ? crls.find(*gen) : crls.end();
  if (found == crls.end()) {
    return SideResponse(404, "Not Found", kText, "try /crl or /crl.pem\n", head_only, "");
  }
  const bool der = !pem;
  const PublishedCrl* crl = found->second.get();
  if (crl == nullptr) {
    return SideResponse(503, "Service Unavailable", kText, "no CRL signed yet\n", head_only,
                        "Retry-After: " +
                            std::to_string(JitteredRetryAfter(1, RetryJitterUniform())) +
                            "\r\nCache-Control: no-store\r\n");
  }
  if (NotModified(head, *crl)) {
    return SideResponse(304, "Not Modified", "", "", true, Validators(*crl, now));
  }
  return SideResponse(200, "OK", der ? "application/pkix-crl" : "application/x-pem-file",
                      der ? crl->der : crl->pem, head_only, Validators(*crl, now));
}

}  // namespace provisiond
