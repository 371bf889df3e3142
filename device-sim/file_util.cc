// file_util.cc — POSIX implementations of file_util.h; errno is converted to text at each call.
#include "device-sim/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/unique_fd.h"

namespace devsim {
namespace {

std::unexpected<base::Error> Errno(std::string_view call, const std::string& path) {
  return base::Fail(base::Code::kIo, std::string(call) + " " + path + ": " + std::strerror(errno));
}

// Writes all of contents to fd, retrying short writes and EINTR.
bool WriteAll(int fd, std::string_view contents) {
  while (!contents.empty()) {
    const ssize_t n = write(fd, contents.data(), contents.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    contents.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

base::Result<bool> MakePrivateDir(const std::string& path) {
  if (mkdir(path.c_str(), 0700) == 0) return true;
  if (errno != EEXIST) return Errno("mkdir", path);
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return Errno("stat", path);
  if (!S_ISDIR(st.st_mode))
    return base::Fail(base::Code::kIo, path + " exists and is not a directory");
  return false;
}

base::Result<void> WriteNewFile(const std::string& path, std::string_view contents, mode_t mode) {
  base::UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd) return Errno("open", path);
  const char* failed_call = WriteAll(fd.get(), contents) ? nullptr : "write";
  int saved_errno = errno;
  if (!fd.Close() && failed_call == nullptr) {
    failed_call = "close";
    saved_errno = errno;
  }
  if (failed_call != nullptr) {
    unlink(path.c_str());
    errno = saved_errno;
    return Errno(failed_call, path);
  }
  return {};
}

base::Result<void> ReplaceFile(const std::string& path, std::string_view contents, mode_t mode) {
  // One writer per device at a time, so a fixed name is unique; a leftover from a crash is stale.
  const std::string tmp = path + ".tmp";
  unlink(tmp.c_str());
  if (auto written = WriteNewFile(tmp, contents, mode); !written) return written;
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    auto error = Errno("rename", tmp);
    unlink(tmp.c_str());
    return error;
  }
  return {};
}

base::Result<std::string> ReadFile(const std::string& path, size_t max_bytes) {
  base::UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Errno("open", path);
  std::string out;
  char buf[4096];
  while (true) {
    const ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("read", path);
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      return base::Fail(base::Code::kIo,
                        path + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

bool FileExists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

}  // namespace devsim
