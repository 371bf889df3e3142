// files.cc — file helpers (see files.h).
#include "daemon/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "base/unique_fd.h"

namespace provisiond {

namespace {

base::Result<std::string> ReadAll(int fd, const std::string& path, size_t max_bytes) {
  std::string data;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return base::Fail(base::Code::kIo, "read " + path + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > max_bytes) {
      return base::Fail(base::Code::kIo,
                        path + ": larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
  return data;
}

}  // namespace

base::Result<std::string> ReadFile(const std::string& path, size_t max_bytes) {
  base::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return base::Fail(base::Code::kIo, "open " + path + ": " + std::strerror(errno));
  return ReadAll(fd.get(), path, max_bytes);
}

namespace {

// Opens a secret file and checks it: regular, not a symlink, no group/other access, ours.
base::Result<base::UniqueFd> OpenSecretFile(const std::string& path) {
  base::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return base::Fail(base::Code::kIo, "open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return base::Fail(base::Code::kIo, "stat " + path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return base::Fail(base::Code::kIo, path + ": not a regular file");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return base::Fail(base::Code::kIo,
                      path + ": mode " + mode + ", want 0600 or 0400 (no group/other access)");
  }
  if (st.st_uid != ::geteuid()) {
    return base::Fail(base::Code::kIo, path + ": owned by uid " + std::to_string(st.st_uid) +
                                           ", want uid " + std::to_string(::geteuid()) +
                                           " (the user provisiond runs as)");
  }
  return fd;
}

}  // namespace

base::Result<std::string> ReadSecretFile(const std::string& path, size_t max_bytes) {
  auto fd = OpenSecretFile(path);
  if (!fd) return std::unexpected(fd.error());
  return ReadAll(fd->get(), path, max_bytes);
}

base::Result<base::Secret> ReadPinFile(const std::string& path) {
  auto fd = OpenSecretFile(path);
  if (!fd) return std::unexpected(fd.error());
  // Room for the longest PIN, its "\r\n" and one byte more: a longer file is refused, not cut.
  unsigned char buf[base::Secret::kMaxBytes + 3];
  size_t len = 0;
  while (len < sizeof buf) {
    ssize_t n = ::read(fd->get(), buf + len, sizeof buf - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      explicit_bzero(buf, sizeof buf);
      return base::Fail(base::Code::kIo, "read " + path + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    len += static_cast<size_t>(n);
  }
  const bool too_long = len == sizeof buf;
  if (len > 0 && buf[len - 1] == '\n') {
    --len;
    if (len > 0 && buf[len - 1] == '\r') --len;
  }
  std::string_view pin(reinterpret_cast<const char*>(buf), len);
  base::Result<base::Secret> secret =
      too_long || len > base::Secret::kMaxBytes
          ? base::Fail(base::Code::kIo, path + ": longer than " +
                                            std::to_string(base::Secret::kMaxBytes) + " bytes")
      : len == 0 ? base::Fail(base::Code::kIo, path + ": empty")
                 : base::Secret::From(pin);
  explicit_bzero(buf, sizeof buf);
  return secret;
}

base::Result<void> WriteNewFile(const std::string& path, const std::string& data, unsigned mode) {
  base::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd) return base::Fail(base::Code::kIo, "create " + path + ": " + std::strerror(errno));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return base::Fail(base::Code::kIo, "write " + path + ": " + std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0 || !fd.Close()) {
    return base::Fail(base::Code::kIo, "fsync/close " + path + ": " + std::strerror(errno));
  }
  return {};
}

base::Result<std::vector<std::string>> ExpandTrustPath(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) {
    if (!std::filesystem::exists(path, ec))
      return base::Fail(base::Code::kIo, path + ": not found");
    return std::vector<std::string>{path};
  }
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
    if (entry.is_regular_file()) files.push_back(entry.path().string());
  }
  if (ec) return base::Fail(base::Code::kIo, "list " + path + ": " + ec.message());
  std::sort(files.begin(), files.end());
  if (files.empty()) return base::Fail(base::Code::kIo, path + ": directory holds no certificates");
  return files;
}

}  // namespace provisiond
