// csr_builder.cc — PKCS#10 via mbedtls_x509write_csr.
#include "device-sim/csr_builder.h"

#include <mbedtls/md.h>
#include <mbedtls/x509_csr.h>

#include <string>

#include "ca/scoped.h"
#include "ca/signer.h"

namespace devsim {

ca::Result<ca::Bytes> BuildCsr(std::string_view device_id, ca::PrivateKey& key, ca::Rng rng) {
  ca::Scoped<mbedtls_x509write_csr, mbedtls_x509write_csr_init, mbedtls_x509write_csr_free> csr;
  const std::string subject = "CN=" + ca::EscapeDnValue(device_id);
  if (int ret = mbedtls_x509write_csr_set_subject_name(csr.get(), subject.c_str()); ret != 0) {
    return ca::Fail(ca::Code::kInvalidArgument,
                    ca::MbedtlsError("mbedtls_x509write_csr_set_subject_name", ret));
  }
  mbedtls_x509write_csr_set_key(csr.get(), key.pk());
  mbedtls_x509write_csr_set_md_alg(csr.get(), MBEDTLS_MD_SHA256);

  // The writer fills the buffer from its end; a P-256 CSR is a few hundred bytes.
  ca::Bytes buf(2048);
  const int len = mbedtls_x509write_csr_der(csr.get(), buf.data(), buf.size(), rng.fill, rng.state);
  if (len < 0) {
    return ca::Fail(ca::Code::kCrypto, ca::MbedtlsError("mbedtls_x509write_csr_der", len));
  }
  return ca::Bytes(buf.end() - len, buf.end());
}

}  // namespace devsim
