// file_util.h — the few POSIX file operations the simulator needs, with secret-safe modes: key
// files are created with their final mode (never chmod-ed afterwards) and replaced by atomic
// rename.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "base/error.h"

namespace devsim {

// mkdir(path, 0700). Ok(true) if created, Ok(false) if a directory already exists there; kIo
// otherwise (including a non-directory in the way).
base::Result<bool> MakePrivateDir(const std::string& path);

// Creates `path` with O_CREAT|O_EXCL|O_NOFOLLOW and `mode` and writes `contents`. kIo if it already
// exists or any step fails (a partial file is removed).
base::Result<void> WriteNewFile(const std::string& path, std::string_view contents, mode_t mode);

// Writes `contents` to a sibling temporary file created exclusively with `mode`, then renames it
// over `path`: readers see the old file or the new one, never a mix, and a key never exists with a
// wider mode. kIo on failure (the temporary is removed).
base::Result<void> ReplaceFile(const std::string& path, std::string_view contents, mode_t mode);

// The whole content of a regular file. kIo if it cannot be read or is larger than max_bytes.
base::Result<std::string> ReadFile(const std::string& path, size_t max_bytes);

bool FileExists(const std::string& path);

}  // namespace devsim
