// files.h — small file helpers for the daemon: read whole files and secrets, write secrets with
// mode 0600.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "base/secret.h"

namespace provisiond {

base::Result<std::string> ReadFile(const std::string& path, size_t max_bytes = 1 << 20);

// ReadFile for a secret (a password file): a regular file (not through a symlink) owned by the
// effective user with no group or other access (mode 0600 or 0400), else kIo naming the problem.
base::Result<std::string> ReadSecretFile(const std::string& path, size_t max_bytes);

// ReadSecretFile's checks (regular file, no symlink, owner, no group/other access) for a token PIN,
// read straight into a Secret (at most base::Secret::kMaxBytes; one trailing newline dropped;
// refused when empty). kIo naming the problem, never the content.
base::Result<base::Secret> ReadPinFile(const std::string& path);

// Creates path with O_CREAT|O_EXCL and `mode` (0600 for keys: never a moment with wider
// permissions), writes data, fsyncs. Fails if the file exists.
base::Result<void> WriteNewFile(const std::string& path, const std::string& data, unsigned mode);

// Regular files in a directory (sorted) if path is a directory, else {path}.
base::Result<std::vector<std::string>> ExpandTrustPath(const std::string& path);

}  // namespace provisiond
