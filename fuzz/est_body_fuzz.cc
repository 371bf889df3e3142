// est_body_fuzz.cc — what simpleenroll does with a request body: lenient base64, then the full
// PKCS#10 checks and the identity comparison.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ca/csr.h"
#include "ca/encoding.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto der = ca::Base64Decode(body, ca::kMaxCsrDer);
  if (!der) return 0;
  if (der->size() > ca::kMaxCsrDer) __builtin_trap();
  auto csr = ca::CheckCsr(*der);
  if (csr) (void)ca::CheckCsrIdentity(*csr, "dev-00001", ca::IdentitySource::kCommonName);
  return 0;
}
