// csr_fuzz.cc — CSR validation on raw DER: framing, PKCS#10 parse, key and algorithm checks,
// proof of possession, attributes (challengePassword), identity in CN and serialNumber.
#include <cstddef>
#include <cstdint>

#include "ca/csr.h"
#include "ca/csr_attribute_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const unsigned char> der(data, size);
  auto csr = ca::CheckCsr(der);
  if (csr) {
    if (csr->public_key_der.empty()) __builtin_trap();
    (void)ca::CheckCsrIdentity(*csr, "x", ca::IdentitySource::kSerialNumber);
  }
  // The attribute walker is also reachable on its own (it reads the CRI).
  (void)ca::ChallengePassword(der);
  return 0;
}
