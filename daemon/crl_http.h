// crl_http.h — the answers of the CRL listener (--crl-listen): GET/HEAD /crl (DER,
// application/pkix-crl) and /crl.pem, with ETag, Last-Modified and Cache-Control: max-age, and
// 304 for a conditional GET that already has it. Pure functions over a published CRL, so tests
// need no socket; crl_service.h serves them on a SideHttp.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/types.h"

namespace provisiond {

// One signed CRL as served. Immutable once published (shared by the HTTP thread).
struct PublishedCrl {
  std::string der;
  std::string pem;
  int64_t number = 0;
  size_t entries = 0;
  base::UnixTime this_update = 0;
  base::UnixTime next_regeneration = 0;  // when the timer makes the next one (max-age counts to it)
  std::string etag;                      // "\"crl-<number>\"": changes with every CRL
};

// An IMF-fixdate (RFC 9110 §5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT".
std::string HttpDate(base::UnixTime t);
// Parses an IMF-fixdate; nullopt for anything else (the obsolete formats are not accepted, and a
// date we cannot read makes the GET unconditional, as RFC 9110 §13.1.3 asks).
std::optional<base::UnixTime> ParseHttpDate(std::string_view text);

// The CRL of each CA generation served (#19 part 3): a generation listed with nullptr has none
// signed yet.
using CrlsByGen = std::map<int64_t, std::shared_ptr<const PublishedCrl>>;

// The generation a path names: "/crl" and "/crl.pem" generation 1 (the paths from before any
// rollover), "/crl-genN" and "/crl-genN.pem" generation N >= 2 (ca::CrlUrlForGeneration's
// suffix); *pem says which form. nullopt for any other path (matched exactly).
std::optional<int64_t> CrlPathGeneration(std::string_view path, bool* pem);

// The whole response to one request head. A path naming a generation that is not in `crls` (or
// any other path) answers 404; one whose CRL is nullptr (none signed yet) 503 with Retry-After.
// 405 for methods other than GET and HEAD, 400 for a malformed request line. If-None-Match (a
// list, or "*") wins over If-Modified-Since (RFC 9110 §13.2.2); either matching answers 304 with
// the validators.
std::string AnswerCrlRequest(std::string_view head, const CrlsByGen& crls, base::UnixTime now);
// Generation 1 alone (crl may be nullptr): the answers from before any rollover.
std::string AnswerCrlRequest(std::string_view head, const PublishedCrl* crl, base::UnixTime now);

}  // namespace provisiond
