// sync_count_test.cc — SQLite-only: what one admin command costs in file-system work, counted by a
// VFS shim around SQLite's default one: syncs of the WAL and of the database, the -wal file
// created and unlinked. The revocation and its admin event are one commit (one WAL sync), and a
// store used by one short-lived process after another reuses its -wal file (db/store.cc).
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "db/sqlite_store.h"
#include "db/store.h"
#include "tests/db/sqlite_fixture.h"
#include "tests/db/store_fixture.h"

namespace db::testing {
namespace {

// What the shim saw since it was installed.
struct Counts {
  int wal_syncs = 0;
  int db_syncs = 0;
  int wal_created = 0;  // the -wal file opened where there was none
  int wal_deleted = 0;
};

Counts counts;
sqlite3_vfs* real_vfs = nullptr;

// A file of the shim: our header, then the real VFS's file.
struct ShimFile {
  sqlite3_file base;
  int type;  // SQLITE_OPEN_MAIN_DB, SQLITE_OPEN_WAL or 0 (any other file)
  sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
};

ShimFile* Shim(sqlite3_file* f) { return reinterpret_cast<ShimFile*>(f); }
sqlite3_file* Real(sqlite3_file* f) { return Shim(f)->real(); }

int Close(sqlite3_file* f) { return Real(f)->pMethods->xClose(Real(f)); }
int Read(sqlite3_file* f, void* b, int n, sqlite3_int64 o) {
  return Real(f)->pMethods->xRead(Real(f), b, n, o);
}
int Write(sqlite3_file* f, const void* b, int n, sqlite3_int64 o) {
  return Real(f)->pMethods->xWrite(Real(f), b, n, o);
}
int Truncate(sqlite3_file* f, sqlite3_int64 n) { return Real(f)->pMethods->xTruncate(Real(f), n); }
int Sync(sqlite3_file* f, int flags) {
  if (Shim(f)->type == SQLITE_OPEN_WAL) ++counts.wal_syncs;
  if (Shim(f)->type == SQLITE_OPEN_MAIN_DB) ++counts.db_syncs;
  return Real(f)->pMethods->xSync(Real(f), flags);
}
int FileSize(sqlite3_file* f, sqlite3_int64* n) { return Real(f)->pMethods->xFileSize(Real(f), n); }
int Lock(sqlite3_file* f, int l) { return Real(f)->pMethods->xLock(Real(f), l); }
int Unlock(sqlite3_file* f, int l) { return Real(f)->pMethods->xUnlock(Real(f), l); }
int CheckReserved(sqlite3_file* f, int* r) {
  return Real(f)->pMethods->xCheckReservedLock(Real(f), r);
}
int FileControl(sqlite3_file* f, int op, void* arg) {
  return Real(f)->pMethods->xFileControl(Real(f), op, arg);
}
int SectorSize(sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); }
int DeviceCharacteristics(sqlite3_file* f) {
  return Real(f)->pMethods->xDeviceCharacteristics(Real(f));
}
int ShmMap(sqlite3_file* f, int page, int size, int extend, void volatile** out) {
  return Real(f)->pMethods->xShmMap(Real(f), page, size, extend, out);
}
int ShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
}
void ShmBarrier(sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); }
int ShmUnmap(sqlite3_file* f, int delete_flag) {
  return Real(f)->pMethods->xShmUnmap(Real(f), delete_flag);
}
int Fetch(sqlite3_file* f, sqlite3_int64 o, int n, void** out) {
  return Real(f)->pMethods->xFetch(Real(f), o, n, out);
}
int Unfetch(sqlite3_file* f, sqlite3_int64 o, void* p) {
  return Real(f)->pMethods->xUnfetch(Real(f), o, p);
}

const sqlite3_io_methods kShimMethods = {3,
                                         Close,
                                         Read,
                                         Write,
                                         Truncate,
                                         Sync,
                                         FileSize,
                                         Lock,
                                         Unlock,
                                         CheckReserved,
                                         FileControl,
                                         SectorSize,
                                         DeviceCharacteristics,
                                         ShmMap,
                                         ShmLock,
                                         ShmBarrier,
                                         ShmUnmap,
                                         Fetch,
                                         Unfetch};

int Open(sqlite3_vfs* vfs, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  ShimFile* shim = Shim(f);
  shim->type = (flags & SQLITE_OPEN_WAL) != 0       ? SQLITE_OPEN_WAL
               : (flags & SQLITE_OPEN_MAIN_DB) != 0 ? SQLITE_OPEN_MAIN_DB
                                                    : 0;
  struct stat st {};
  const bool existed = name != nullptr && ::stat(name, &st) == 0;
  int rc = real_vfs->xOpen(real_vfs, name, shim->real(), flags, out_flags);
  // SQLite calls xClose only on a file whose pMethods is set.
  f->pMethods = rc == SQLITE_OK && shim->real()->pMethods != nullptr ? &kShimMethods : nullptr;
  if (rc == SQLITE_OK && shim->type == SQLITE_OPEN_WAL && !existed) ++counts.wal_created;
  (void)vfs;
  return rc;
}

int Delete(sqlite3_vfs*, const char* name, int sync_dir) {
  if (std::string(name).ends_with("-wal")) ++counts.wal_deleted;
  return real_vfs->xDelete(real_vfs, name, sync_dir);
}

// Everything else is the real VFS's own.
sqlite3_vfs shim_vfs;

// Installs the shim as the default VFS for the test's scope, counts from zero.
struct ShimInstalled {
  ShimInstalled() {
    real_vfs = sqlite3_vfs_find(nullptr);
    REQUIRE(real_vfs != nullptr);
    shim_vfs = *real_vfs;
    shim_vfs.zName = "sync_count_shim";
    shim_vfs.szOsFile = static_cast<int>(sizeof(ShimFile)) + real_vfs->szOsFile;
    shim_vfs.xOpen = Open;
    shim_vfs.xDelete = Delete;
    shim_vfs.pNext = nullptr;
    REQUIRE(sqlite3_vfs_register(&shim_vfs, /*makeDflt=*/1) == SQLITE_OK);
    counts = {};
  }
  ~ShimInstalled() {
    sqlite3_vfs_unregister(&shim_vfs);
    sqlite3_vfs_register(real_vfs, /*makeDflt=*/1);
  }
};

EventRecord AdminEvent(int changed) {
  return EventRecord{.time = "2026-09-01T00:00:00Z",
                     .peer = "local",
                     .endpoint = "admin",
                     .outcome = "revoked",
                     .reason = "count=" + std::to_string(changed)};
}

Result<int> RevokeWithEvent(Store& store, int serial) {
  return store.RevokeRecorded(Store::RevokeBy::kSerial, SerialHex(serial), 1,
                              "2026-09-01T00:00:00Z", AdminEvent);
}

TEST_CASE("a revocation with its admin event beside a serving daemon: one WAL sync") {
  ShimInstalled shim;
  TempDir dir;
  const std::string path = dir.File("store.db");
  // The daemon: its connections keep the WAL open, so the admin command's close neither
  // checkpoints nor removes it.
  auto daemon = OpenOrDie(path);
  for (int n = 1; n <= 3; ++n) Issue(*daemon, SampleCertificate(SerialHex(n)));
  auto admin = OpenOrDie(path);
  REQUIRE(RevokeWithEvent(*admin, 1).value() == 1);  // the WAL is past its first frame now
  counts = {};
  REQUIRE(RevokeWithEvent(*admin, 2).value() == 1);
  CHECK(counts.wal_syncs == 1);  // one commit (two transactions would sync twice)
  CHECK(counts.db_syncs == 0);
  admin.reset();
  CHECK(counts.wal_syncs == 1);  // no checkpoint at the admin command's close
  CHECK(counts.db_syncs == 0);
  CHECK(counts.wal_deleted == 0);
  CHECK(daemon->CertificateStatus(SerialHex(2)).value() == CertStatus::kRevoked);
}

TEST_CASE("one short-lived store after another reuses the -wal file") {
  ShimInstalled shim;
  TempDir dir;
  const std::string path = dir.File("store.db");
  { Issue(*OpenOrDie(path), SampleCertificate(SerialHex(1))); }
  REQUIRE(std::filesystem::exists(path + "-wal"));
  struct stat before {};
  REQUIRE(::stat((path + "-wal").c_str(), &before) == 0);

  counts = {};
  {
    auto store = OpenOrDie(path);  // as `provisiond revoke` with no daemon running
    REQUIRE(RevokeWithEvent(*store, 1).value() == 1);
  }
  MESSAGE("open, revoke, close with no other user: ", counts.wal_syncs, " WAL syncs, ",
          counts.db_syncs, " database syncs");
  CHECK(counts.wal_created == 0);
  CHECK(counts.wal_deleted == 0);
  CHECK(counts.wal_syncs >= 1);  // the commit is still synced
  struct stat after {};
  REQUIRE(::stat((path + "-wal").c_str(), &after) == 0);
  CHECK(after.st_ino == before.st_ino);
  CHECK(after.st_size == 0);  // checkpointed into the database at the last close

  // The database file alone holds everything: a copy of it without the -wal is complete.
  const std::string copy = dir.File("copy.db");
  std::filesystem::copy_file(path, copy);
  RawDb raw = OpenRaw(copy);
  CHECK(QueryRawInt(raw.get(), "SELECT count(*) FROM certificates WHERE revoked_at IS NOT NULL") ==
        1);
  CHECK(QueryRawInt(raw.get(), "SELECT count(*) FROM enrollment_events WHERE endpoint = 'admin'") ==
        1);
}

}  // namespace
}  // namespace db::testing
