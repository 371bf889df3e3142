// damage_fixture.h — damaging one page of a SQLite file behind the store's back, for the tests of
// how damage is found (tests/db/store_check_test.cc, tests/daemon/store_checker_test.cc).
#pragma once

#include <cstdint>
#include <fstream>
#include <string>

#include "tests/db/sqlite_fixture.h"

namespace db::testing {

// The store must be closed (its WAL checkpointed into the file) before a page is damaged.
inline int64_t PageSize(const std::string& path) {
  RawDb raw = OpenRaw(path);
  return QueryRawInt(raw.get(), "PRAGMA page_size");
}

// The root page of the table or index `name`.
inline int64_t RootPage(const std::string& path, const std::string& name) {
  RawDb raw = OpenRaw(path);
  return QueryRawInt(raw.get(), "SELECT rootpage FROM sqlite_schema WHERE name = '" + name + "'");
}

// The first leaf page (in key order, i.e. the oldest rows) of table `name`: a page no insert of a
// new row reads, since new rows (increasing ids) go to the rightmost leaf. 0 if the table is a
// single page (its root is its only leaf).
inline int64_t FirstLeafPage(const std::string& path, const std::string& name) {
  RawDb raw = OpenRaw(path);
  std::string page = QueryRaw(raw.get(),
                              "SELECT pageno FROM dbstat WHERE name = '" + name +
                                  "' AND pagetype = 'leaf' ORDER BY path LIMIT 1");
  return page.empty() ? 0 : std::stoll(page);
}

// Overwrites page `page` (1-based) with 0x55 bytes: not a valid b-tree page of any kind.
inline void DamagePage(const std::string& path, int64_t page) {
  const int64_t size = PageSize(path);
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekp((page - 1) * size);
  std::string junk(static_cast<size_t>(size), '\x55');
  file.write(junk.data(), static_cast<std::streamsize>(junk.size()));
}

// The page's bytes as they are in the file now.
inline std::string PageBytes(const std::string& path, int64_t page) {
  const int64_t size = PageSize(path);
  std::ifstream file(path, std::ios::binary);
  file.seekg((page - 1) * size);
  std::string bytes(static_cast<size_t>(size), '\0');
  file.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return bytes;
}

}  // namespace db::testing
