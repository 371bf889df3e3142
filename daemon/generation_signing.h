// generation_signing.h — the CA's own evidence across rollovers (#19 part 3): audit checkpoints
// and tidy archives are signed with the ACTIVE generation's key and verified under the root of
// any generation present in the state dir (docs/rollover.md, "Checkpoints and archives").
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/types.h"
#include "ca/audit_checkpoint.h"
#include "ca/cert.h"
#include "ca/rng.h"
#include "daemon/ca_key_source.h"
#include "db/store.h"

namespace provisiond {

// The generation that issues now: the store's active one, or 1 when no rollover was ever made.
// kIo naming the store's error; kInvalidArgument when generations exist but none is active.
base::Result<int64_t> ActiveGeneration(db::Store& store);

// One generation's key (OpenGenerationKey: file or token) with its root and a DRBG: what
// `audit checkpoint` and `tidy` sign with. Owns everything it holds.
struct GenerationSigner {
  int64_t gen = 1;
  std::unique_ptr<ca::Drbg> drbg;
  std::unique_ptr<ca::CrtChain> crt;  // GenerationDir(gen)/ca.crt
  std::unique_ptr<CaKeySource> source;
  std::unique_ptr<ca::CaKey> key;

  // Errors name the generation (its ca.crt unreadable, its key not opening).
  static base::Result<GenerationSigner> Open(const std::string& state_dir, int64_t gen,
                                             const CaKeyOptions& options);
  // The checkpoint file (ca/audit_checkpoint.h), verified under this generation's root.
  base::Result<std::string> Checkpoint(const ca::AuditCheckpoint& checkpoint);
  // A DER ECDSA signature over a SHA-256 digest.
  base::Result<base::Bytes> Sign(const unsigned char (&digest)[32]);
};

// A generation's root, parsed from the state dir. crt is null for a generation left out (its root
// is not linked from the previous generation's); left_out says why.
struct GenerationRoot {
  int64_t gen = 1;
  std::unique_ptr<ca::CrtChain> crt;
  std::string left_out;
};

// Every generation's root in state_dir, oldest first: ca.crt (generation 1, required) and each
// ca-genN/ca.crt present (retired generations too: their signatures were made while trusted).
// Only directories named exactly ca-genN (N >= 2, no leading zero) count, and generation N's root
// is accepted only if it is linked from generation N-1's accepted root: ca-genN/newwithold.crt
// verifies under that root's key and carries ca-genN/ca.crt's subject and public key. A file
// dropped into the state dir is therefore not trusted unless the previous generation's key signed
// its link; a generation that fails is in the result with a null crt and the reason (LeftOutNote).
// kIo / kInvalidArgument naming the directory or a ca.crt that cannot be read or parsed.
base::Result<std::vector<GenerationRoot>> LoadGenerationRoots(const std::string& state_dir);

// "" when every root in roots is accepted, else "; left out: generation 3 (why)[; generation 4
// (why)]": what a refusal line appends, so that an operator sees a generation was not trusted.
std::string LeftOutNote(const std::vector<GenerationRoot>& roots);

// The generation of the first root in `roots` whose key verifies `signature` over `digest`
// (SHA-256); 0 when none does. Roots left out are skipped.
int64_t GenerationThatSigned(const std::vector<GenerationRoot>& roots,
                             std::span<const unsigned char, 32> digest,
                             const base::Bytes& signature);

struct SignedCheckpoint {
  ca::AuditCheckpoint checkpoint;
  int64_t gen = 0;  // the generation whose key signed it
};

// A checkpoint file verified under any of `roots`. kInvalidArgument for a file out of form (the
// parser's line), or "the signature does not verify under the CA certificate of any generation
// (generations 1, 2)".
base::Result<SignedCheckpoint> VerifyCheckpointUnderAny(std::string_view text,
                                                        const std::vector<GenerationRoot>& roots);

}  // namespace provisiond
