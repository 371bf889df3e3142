// manifest_file_test.cc — the factory manifest parser (daemon/manifest_file.h): CSV and JSON, hex
// in either case, every bad line reported with its number, duplicates, and the bounds.
#include "daemon/manifest_file.h"

#include <doctest/doctest.h>

#include <string>

namespace provisiond {
namespace {

const std::string kLowerA(64, 'a');
const std::string kLowerB = std::string(63, 'b') + "c";

std::string Lines(const ParsedManifest& parsed) {
  std::string out;
  for (const ManifestProblem& p : parsed.problems) out += std::to_string(p.line) + " ";
  return out;
}

TEST_CASE("CSV: header, rows with their lines, uppercase hex lowercased, CRLF, empty lines") {
  const std::string text = "device_id,bootstrap_sha256\r\ndev-1," + std::string(64, 'A') +
                           "\r\n\r\ndev 2," + kLowerB + "\n";
  ParsedManifest parsed = ParseManifest(text);
  REQUIRE_MESSAGE(parsed.problems.empty(), parsed.problems.front().message);
  REQUIRE(parsed.rows.size() == 2);
  CHECK(parsed.rows[0].device_id == "dev-1");
  CHECK(parsed.rows[0].bootstrap_sha256 == kLowerA);
  CHECK(parsed.rows[0].line == 2);
  CHECK(parsed.rows[1].device_id == "dev 2");
  CHECK(parsed.rows[1].line == 4);
}

TEST_CASE("CSV: every bad line is reported with its number, and no row is good enough alone") {
  const std::string text = "device_id,bootstrap_sha256\n"
                           "dev-1," + kLowerA + "\n"        // 2 good
                           "dev-2\n"                         // 3 one field
                           "dev-3," + kLowerA + "\n"        // 4 fingerprint repeats line 2
                           "dev-1," + kLowerB + "\n"        // 5 device repeats line 2
                           "dev-6,abc\n"                     // 6 short hex
                           "dev-7," + std::string(64, 'g') + "\n"  // 7 not hex
                           "," + kLowerB + "\n"             // 8 empty id
                           " dev-9," + kLowerB + "\n"       // 9 leading space
                           "dev\"10," + kLowerB + "\n"      // 10 quote
                           "dev-11," + kLowerB + ",x\n";    // 11 three fields
  ParsedManifest parsed = ParseManifest(text);
  CHECK(Lines(parsed) == "3 4 5 6 7 8 9 10 11 ");
  CHECK(parsed.problems[1].message == "bootstrap_sha256 repeats line 2");
  CHECK(parsed.problems[2].message == "device_id repeats line 2");
}

TEST_CASE("CSV: the header is required; an empty file or a header alone has no rows") {
  CHECK(Lines(ParseManifest("id,fp\ndev-1," + kLowerA + "\n")) == "1 ");
  CHECK(Lines(ParseManifest("")) == "0 ");
  CHECK(Lines(ParseManifest("device_id,bootstrap_sha256\n")) == "0 ");
}

TEST_CASE("JSON: an array of objects, each row on the line of its '{'") {
  const std::string text = "\xEF\xBB\xBF[\n  {\"device_id\": \"dev-1\", \"bootstrap_sha256\": \"" +
                           std::string(64, 'A') + "\"},\n  {\"bootstrap_sha256\": \"" + kLowerB +
                           "\",\n   \"device_id\": \"dev-2\"}\n]\n";
  ParsedManifest parsed = ParseManifest(text);
  REQUIRE_MESSAGE(parsed.problems.empty(), parsed.problems.front().message);
  REQUIRE(parsed.rows.size() == 2);
  CHECK(parsed.rows[0].bootstrap_sha256 == kLowerA);
  CHECK(parsed.rows[0].line == 2);
  CHECK(parsed.rows[1].device_id == "dev-2");
  CHECK(parsed.rows[1].line == 3);
}

TEST_CASE("JSON: bad entries with their lines; bad documents as a whole") {
  const std::string text = "[\n{\"device_id\": \"a\", \"bootstrap_sha256\": \"" + kLowerA +
                           "\"},\n{\"device_id\": \"b\"},\n{\"device_id\": 7, \"bootstrap_sha256\": \"" +
                           kLowerB + "\"},\n{\"device_id\": \"c\", \"bootstrap_sha256\": \"" +
                           kLowerB + "\", \"x\": 1},\n{\"device_id\": \"a\", \"bootstrap_sha256\": \"" +
                           kLowerB + "\"}\n]";
  CHECK(Lines(ParseManifest(text)) == "3 4 5 6 ");
  CHECK(Lines(ParseManifest("[{\"device_id\": \"a\"")) == "0 ");            // not JSON
  CHECK(Lines(ParseManifest("[[[{}]]]")) == "0 ");                           // too deep
  CHECK(Lines(ParseManifest("[\"x\"]")) == "0 ");                            // not an object
  CHECK(Lines(ParseManifest("[]")) == "0 ");                                 // no rows
  CHECK(Lines(ParseManifest("[{\"device_id\": \"\xff\", \"bootstrap_sha256\": \"" + kLowerA +
                            "\"}]")) == "0 ");                               // not UTF-8
}

TEST_CASE("the bounds: file size, line length, row count, device id length") {
  CHECK(Lines(ParseManifest(std::string(kMaxManifestBytes + 1, '\n'))) == "0 ");
  const std::string header = "device_id,bootstrap_sha256\n";
  CHECK(Lines(ParseManifest(header + std::string(kMaxManifestLineBytes + 1, 'x') + "\n")) == "2 ");
  CHECK(Lines(ParseManifest(header + std::string(kMaxDeviceIdBytes + 1, 'x') + "," + kLowerA)) ==
        "2 ");
  std::string many = header;
  char hex[65];
  for (size_t i = 0; i <= kMaxManifestRows; ++i) {
    std::snprintf(hex, sizeof hex, "%064zx", i);
    many += "d" + std::to_string(i) + "," + hex + "\n";
  }
  ParsedManifest parsed = ParseManifest(many);
  CHECK(parsed.rows.size() == kMaxManifestRows);
  CHECK(Lines(parsed) == std::to_string(kMaxManifestRows + 2) + " ");
}

}  // namespace
}  // namespace provisiond
