// tidy_archive.h — the file `provisiond tidy --archive FILE` writes before it removes anything,
// and its check (`provisiond audit verify-archive FILE`). The format, LF-terminated lines:
//   provisiond-tidy-archive v1
//   checkpoint <b64>      the head audit checkpoint tidy signed before removing anything
//   base <id> <hash> <b64|->  where the archived chain rows start: first id, its prev_hash, and the
//                          signed checkpoint of the row below (- when the chain started at genesis)
//   cut <b64|->           signed checkpoint of the last archived chain row (- when none)
//   event <id> <prev_hash> <row_hash> <time> <peer> <presented_fingerprint> <presented_subject>
//         <device_id> <endpoint> <outcome> <http_status> <reason> <serial>
//   certificate <serial> <device_id> <kind> <not_after> <revoked_at> <reason> <auth_fp>
//               <issued_at> <der>
//   intent <serial> <device_id> <kind> <not_after> <revoked_at> <reason> <auth_fp> <created_at>
//          <tbs>
//   end <events> <certificates> <intents>
//   signature <b64 DER Ecdsa-Sig-Value, by the CA key, over SHA-256 of every byte above it>
// Text fields are base64 (b64) of their bytes, "-" for empty / NULL; der and tbs base64; hashes
// and serials hex; checkpoints are ca/audit_checkpoint.h files, base64. The header comes first,
// then certificate, intent and event lines in the order tidy removed them (event lines in id
// order), then end and signature.
#pragma once

#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/types.h"
#include "daemon/generation_signing.h"
#include "db/records.h"
#include "db/tidy_records.h"

namespace provisiond {

// Signs a SHA-256 digest with the CA key (DER Ecdsa-Sig-Value).
using DigestSigner = std::function<base::Result<base::Bytes>(const unsigned char (&)[32])>;

class ArchiveWriter {
 public:
  // Creates `path` (mode 0600; kInvalidArgument if it exists) and writes the header lines.
  static base::Result<std::unique_ptr<ArchiveWriter>> Create(const std::string& path,
                                                             const std::string& head_checkpoint,
                                                             const db::ChainBase& base,
                                                             const std::string& cut_checkpoint);
  ~ArchiveWriter();
  void Events(const std::vector<db::ChainRow>& rows);
  void Certificates(const std::vector<db::CertificateRecord>& certs);
  void Intents(const std::vector<db::Intent>& intents);
  // Flushes and fsyncs: what was written survives a crash before the rows are removed.
  base::Result<void> Sync();
  // The end and signature lines, then Sync and close.
  base::Result<void> Finish(const DigestSigner& sign);

 private:
  ArchiveWriter(std::FILE* file, std::string path);
  void Line(const std::string& line);
  std::FILE* file_;
  std::string path_;
  mbedtls_sha256_context sha_;
  int64_t events_ = 0, certificates_ = 0, intents_ = 0;
  bool failed_ = false;
};

struct ArchiveSummary {
  int64_t events = 0, certificates = 0, intents = 0;
  int64_t first_event = 0, last_event = 0;  // 0 when no events
  int64_t head_id = 0;                      // the head checkpoint's row
  int64_t signed_by = 0;                    // the generation whose key signed the file
};

// Checks an archive under the CA generations' roots (LoadGenerationRoots): the signature over the
// whole file and each checkpoint's signature under any of them (a tidy run signs with the
// generation active then; the base checkpoint may be an older run's), the chain rows' hashes and
// links from the base to the cut checkpoint's row, and the counts. kInvalidArgument with one
// line naming the first problem.
base::Result<ArchiveSummary> VerifyArchive(const std::string& path,
                                           const std::vector<GenerationRoot>& roots);

}  // namespace provisiond
