// admin_crl.cc — `provisiond crl` for one CA generation (see admin_crl.h).
#include "daemon/admin_crl.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>

#include "ca/cert.h"
#include "ca/crl.h"
#include "ca/encoding.h"
#include "ca/keys.h"
#include "daemon/ca_generations.h"
#include "daemon/cli_error.h"
#include "daemon/crl_build.h"
#include "daemon/files.h"

namespace provisiond {
namespace {

using cli::Error;

}  // namespace

int WriteGenerationCrl(const CrlCommandOptions& o, const StoreLocation& location) {
  const std::string gen = "CA generation " + std::to_string(o.generation);
  StatePaths paths(GenerationDir(o.state_dir, o.generation));
  auto cert_pem = ReadFile(paths.ca_cert);
  if (!cert_pem) return Error(gen + ": " + cert_pem.error().detail);
  auto crt = ca::ParseCertificates(*cert_pem);
  if (!crt) return Error(paths.ca_cert + ": " + crt.error().detail);
  auto drbg = ca::Drbg::FromSystemEntropy();
  if (!drbg) return Error(drbg.error().detail);
  auto source = OpenGenerationKey(o.state_dir, o.generation, o.ca_key, (*drbg)->rng(), nullptr);
  if (!source) return Error(source.error().detail);
  auto key = (*source)->NewKey((*drbg)->rng());
  if (!key) return Error(key.error().detail);
  auto store = location.Open();
  if (!store) return Error("database: " + store.error().detail);
  const auto now = static_cast<base::UnixTime>(std::time(nullptr));
  auto crl = CrlFromStore(**store, now, static_cast<base::UnixTime>(o.next_update_days) * 86400,
                          /*keep_after_expiry=*/0, o.generation);
  if (!crl) return Error(crl.error().detail);
  auto der = ca::SignCrl(crl->spec, *(*crt)->get(), **key, (*drbg)->rng());
  if (!der) return Error(der.error().detail);
  std::string data = o.pem ? ca::DerToPem(*der, "X509 CRL") : std::string(der->begin(), der->end());
  const std::string tmp = o.out + ".tmp." + std::to_string(::getpid());
  if (auto w = WriteNewFile(tmp, data, 0644); !w) return Error(w.error().detail);
  if (std::rename(tmp.c_str(), o.out.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Error("rename to " + o.out);
  }
  std::printf("wrote CRL number %lld of CA generation %lld with %zu revoked certificate(s) to %s\n",
              static_cast<long long>(crl->number), static_cast<long long>(o.generation),
              crl->spec.revoked.size(), o.out.c_str());
  return 0;
}

}  // namespace provisiond
