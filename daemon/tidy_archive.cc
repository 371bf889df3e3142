// tidy_archive.cc — writing tidy's archive file (the format: tidy_archive.h; its check:
// tidy_archive_check.cc), hashed as it is written and signed with the CA key at the end.
#include "daemon/tidy_archive.h"

#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <span>

#include "ca/encoding.h"

namespace provisiond {
namespace {

constexpr std::string_view kFirstLine = "provisiond-tidy-archive v1";

std::span<const unsigned char> Bytes(std::string_view s) {
  return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

std::string B64(std::string_view text) {
  return text.empty() ? "-" : ca::Base64Encode(Bytes(text), /*wrap=*/false);
}

std::string B64(std::span<const unsigned char> bytes) {
  return bytes.empty() ? "-" : ca::Base64Encode(bytes, /*wrap=*/false);
}

std::string OrDash(const std::optional<std::string>& s) { return s && !s->empty() ? *s : "-"; }

}  // namespace

ArchiveWriter::ArchiveWriter(std::FILE* file, std::string path)
    : file_(file), path_(std::move(path)) {
  mbedtls_sha256_init(&sha_);
  mbedtls_sha256_starts(&sha_, 0);
}

ArchiveWriter::~ArchiveWriter() {
  if (file_ != nullptr) std::fclose(file_);
  mbedtls_sha256_free(&sha_);
}

base::Result<std::unique_ptr<ArchiveWriter>> ArchiveWriter::Create(
    const std::string& path, const std::string& head_checkpoint, const db::ChainBase& base,
    const std::string& cut_checkpoint) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return base::Fail(base::Code::kInvalidArgument, path + ": cannot create (exists?)");
  std::FILE* file = ::fdopen(fd, "w");
  if (file == nullptr) {
    ::close(fd);
    return base::Fail(base::Code::kIo, path + ": fdopen failed");
  }
  std::unique_ptr<ArchiveWriter> w(new ArchiveWriter(file, path));
  w->Line(std::string(kFirstLine));
  w->Line("checkpoint " + B64(head_checkpoint));
  w->Line("base " + std::to_string(base.first_id) + " " + base.prev_hash + " " +
          B64(base.checkpoint));
  w->Line("cut " + B64(cut_checkpoint));
  if (auto synced = w->Sync(); !synced) return std::unexpected(synced.error());
  return w;
}

void ArchiveWriter::Line(const std::string& line) {
  const std::string out = line + "\n";
  mbedtls_sha256_update(&sha_, Bytes(out).data(), out.size());
  if (std::fwrite(out.data(), 1, out.size(), file_) != out.size()) failed_ = true;
}

void ArchiveWriter::Events(const std::vector<db::ChainRow>& rows) {
  for (const db::ChainRow& r : rows) {
    const db::EventRecord& e = r.event;
    Line("event " + std::to_string(r.id) + " " + r.prev_hash + " " + r.row_hash + " " +
         B64(e.time) + " " + B64(e.peer) + " " + B64(e.presented_fingerprint) + " " +
         B64(e.presented_subject) + " " + B64(e.device_id) + " " + B64(e.endpoint) + " " +
         B64(e.outcome) + " " + std::to_string(e.http_status) + " " + B64(e.reason) + " " +
         OrDash(r.serial));
    ++events_;
  }
}

void ArchiveWriter::Certificates(const std::vector<db::CertificateRecord>& certs) {
  for (const db::CertificateRecord& c : certs) {
    Line("certificate " + c.serial_hex + " " + B64(c.device_id) + " " + c.kind + " " +
         c.not_after + " " + OrDash(c.revoked_at) + " " +
         (c.revocation_reason ? std::to_string(*c.revocation_reason) : "-") + " " +
         c.auth_cert_fingerprint + " " + c.issued_at + " " + B64(c.der));
    ++certificates_;
  }
}

void ArchiveWriter::Intents(const std::vector<db::Intent>& intents) {
  for (const db::Intent& i : intents) {
    Line("intent " + i.serial_hex + " " + B64(i.device_id) + " " + i.kind + " " + i.not_after +
         " " + OrDash(i.revoked_at) + " " +
         (i.revocation_reason ? std::to_string(*i.revocation_reason) : "-") + " " +
         i.auth_cert_fingerprint + " " + i.created_at + " " + B64(i.tbs));
    ++intents_;
  }
}

base::Result<void> ArchiveWriter::Sync() {
  if (failed_ || std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) {
    return base::Fail(base::Code::kIo, path_ + ": write failed");
  }
  return {};
}

base::Result<void> ArchiveWriter::Finish(const DigestSigner& sign) {
  Line("end " + std::to_string(events_) + " " + std::to_string(certificates_) + " " +
       std::to_string(intents_));
  unsigned char digest[32];
  if (mbedtls_sha256_finish(&sha_, digest) != 0) {
    return base::Fail(base::Code::kInternal, "archive: sha256 failed");
  }
  auto sig = sign(digest);
  if (!sig) return std::unexpected(sig.error());
  const std::string line = "signature " + ca::Base64Encode(*sig, /*wrap=*/false) + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size()) failed_ = true;
  if (auto synced = Sync(); !synced) return synced;
  if (std::fclose(file_) != 0) {
    file_ = nullptr;
    return base::Fail(base::Code::kIo, path_ + ": close failed");
  }
  file_ = nullptr;
  return {};
}

}  // namespace provisiond
