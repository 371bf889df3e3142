// ca_key_source.cc — opens the state dir's CA key and hands each signing thread a CaKey of its
// own (see ca_key_source.h).
#include "daemon/ca_key_source.h"

#include <filesystem>

#include "daemon/files.h"

namespace provisiond {

base::Result<std::unique_ptr<CaKeySource>> CaKeySource::Open(const StatePaths& paths,
                                                             const CaKeyOptions& options,
                                                             ca::Rng rng) {
  std::unique_ptr<CaKeySource> source(new CaKeySource());
  auto pem = ReadFile(paths.ca_key);
  if (!pem) return std::unexpected(pem.error());
  // Parsed once here so a bad key is refused at start, not by the first worker.
  if (auto key = ca::LoadFileCaKey(*pem, rng); !key) {
    return base::Fail(base::Code::kInvalidArgument, paths.ca_key + ": " + key.error().detail);
  }
  source->key_pem_ = std::move(*pem);
  source->description_ = "file " + paths.ca_key;
  (void)options;
  return source;
}

CaKeySource::~CaKeySource() = default;

base::Result<std::unique_ptr<ca::CaKey>> CaKeySource::NewKey(ca::Rng rng) {
  auto key = ca::LoadFileCaKey(key_pem_, rng);
  if (!key) return std::unexpected(ca::ToBaseError(key.error()));
  return std::move(*key);
}

}  // namespace provisiond
