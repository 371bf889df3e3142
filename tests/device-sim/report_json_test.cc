// report_json_test.cc — the --json document parses (nlohmann's strict parser) and carries the
// run's strings back unchanged, whatever bytes a device id or a server's reason holds.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "device-sim/report.h"

namespace devsim {
namespace {

using Json = nlohmann::json;

// Every control character, quote, backslash, DEL and valid non-ASCII (2-, 3- and 4-byte UTF-8).
std::string Nasty() {
  std::string s = "dev-\"q\"\\back\\slash/";
  for (int c = 0; c < 0x20; ++c) s += static_cast<char>(c);
  return s + "\x7f Z\xC3\xBCrich \xE6\x9D\xB1\xE4\xBA\xAC \xF0\x9F\x94\x91";
}

FleetReport ReportWith(const std::string& device_id, const std::string& reason) {
  FleetReport report;
  report.elapsed_seconds = 2.5;
  report.tally.scenarios[Index(Scenario::kGood)].failed = 1;
  report.tally.scenarios[Index(Scenario::kGood)].unexpected[reason] = 1;
  report.tally.scenarios[Index(Scenario::kGood)].latency.Add(12.3456);
  report.tally.failures.push_back({device_id, Scenario::kGood, reason});
  return report;
}

// Parses strictly (invalid JSON or invalid UTF-8 is refused) without throwing.
Json Parse(const std::string& text) {
  Json doc = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  REQUIRE_MESSAGE(!doc.is_discarded(), "not JSON: " << text);
  return doc;
}

TEST_CASE("report json: quotes, backslashes, control characters and UTF-8 round-trip") {
  const std::string id = Nasty();
  const std::string reason = "http 403: \"no\"\n\\" + Nasty();
  const Json doc = Parse(FormatJson("en\"roll\n", ReportWith(id, reason)));
  CHECK(doc["command"] == "en\"roll\n");
  REQUIRE(doc["failures"].size() == 1);
  CHECK(doc["failures"][0]["device"] == id);
  CHECK(doc["failures"][0]["outcome"] == reason);
  CHECK(doc["failures"][0]["class"] == "good");
  CHECK(doc["classes"]["good"]["unexpected"][reason] == 1);
  CHECK(doc["classes"]["good"]["failed"] == 1);
  CHECK(doc["classes"]["good"]["latency_ms"]["p50"] == 12.346);  // three decimals, as always
}

TEST_CASE("report json: a NUL byte inside a device id survives as \\u0000") {
  const std::string id("dev\0id", 6);
  const std::string text = FormatJson("enroll", ReportWith(id, "x"));
  CHECK(text.find("dev\\u0000id") != std::string::npos);
  CHECK(Parse(text)["failures"][0]["device"] == id);
}

TEST_CASE("report json: invalid UTF-8 becomes U+FFFD, never an exception or invalid JSON") {
  const std::string kReplacement = "\xEF\xBF\xBD";
  struct Case {
    std::string in, out;
  };
  const Case cases[] = {
      {"dev\xFF-1", "dev" + kReplacement + "-1"},       // a byte never in UTF-8
      {"dev\xC3", "dev" + kReplacement},                // truncated 2-byte sequence at the end
      {"a\xC0\xAF" "b", "a" + kReplacement + kReplacement + "b"},  // overlong '/'
      {"\xED\xA0\x80", kReplacement + kReplacement + kReplacement},  // UTF-16 surrogate
  };
  for (const Case& c : cases) {
    CAPTURE(c.out);
    std::string text;
    CHECK_NOTHROW(text = FormatJson("enroll", ReportWith(c.in, c.in)));
    const Json doc = Parse(text);
    CHECK(doc["failures"][0]["device"] == c.out);
    CHECK(doc["failures"][0]["outcome"] == c.out);
    CHECK(doc["classes"]["good"]["unexpected"].contains(c.out));
  }
  for (int byte = 0; byte < 256; ++byte) {  // every single byte as a whole device id
    CAPTURE(byte);
    std::string text;
    CHECK_NOTHROW(text = FormatJson("enroll", ReportWith(std::string(1, static_cast<char>(byte)),
                                                         "r")));
    CHECK(Parse(text)["failures"][0]["device"].is_string());
  }
}

TEST_CASE("report json: the keys and shapes scripts read are there") {
  const Json doc = Parse(FormatJson("enroll", ReportWith("d", "r")));
  for (const char* key : {"command", "ok", "failed", "planned", "elapsed_seconds",
                          "rate_per_second", "cpu_seconds", "cpu_ms_per_enrollment", "settings",
                          "replay_setups", "classes", "all", "slow", "failures",
                          "failures_not_listed"}) {
    CHECK_MESSAGE(doc.contains(key), key);
  }
  CHECK(doc["all"]["histogram"].size() == kHistogramBuckets);
  CHECK(doc["all"]["histogram"].back()["le_ms"].is_null());
  CHECK(doc["all"]["histogram"][0]["le_ms"] == 1);
  CHECK(doc["slow"]["hello"]["lifetime_ms"].contains("p99"));
  CHECK(doc["settings"]["tls"] == "1.3");
  CHECK(doc["classes"].size() == kScenarioCount);
}

}  // namespace
}  // namespace devsim
