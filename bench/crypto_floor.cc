// crypto_floor.cc — the public-key operations one enrollment costs provisiond, each measured alone
// with the same mbedTLS library, APIs and curves the daemon uses; their sum is the floor under
// the daemon's CPU time per enrollment (docs/benchmarks.md compares the two).
//
//   crypto_floor [--seconds S] [--tsv FILE]
//
// One enrollment on the server (TLS 1.3, mutual auth, a fresh device):
//   ECDHE key generation + shared secret (PSA: psa_generate_key/psa_export_public_key and
//     psa_raw_key_agreement, as mbedTLS's TLS 1.3 code does), X25519 or P-256
//   1 ECDSA P-256 sign    the server's CertificateVerify (mbedtls_pk_sign_ext, legacy pk)
//   1 ECDSA P-256 verify  the bootstrap certificate under its manufacturer CA (x509_crt_verify)
//   1 ECDSA P-256 verify  the device's CertificateVerify
//   1 ECDSA P-256 verify  the CSR's self-signature (ca/csr.cc)
//   1 ECDSA P-256 sign    the operational certificate (ca::Issuer::Sign)
//   1 ECDSA P-256 verify  the check of that signature before release (ca::CheckSigned)
// = ECDHE(keygen + shared) + 2 sign + 4 verify. Hashing, HKDF, AEAD and parsing are left out.
//
// Times are this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so other load on the machine
// lengthens the run but not the numbers much. ops/s is per core. Where perf_event_open works,
// user-space instructions per operation are counted too: unlike time, they do not depend on what
// else the machine runs, so bench/run.sh compares them with the daemon's (perf stat).
#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <psa/crypto.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "ca/keys.h"
#include "ca/rng.h"

namespace {

double ThreadSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Result {
  std::string name;
  double us_per_op = 0;
  long ops = 0;
  double instructions = 0;  // user-space, per op; 0 = not counted
};

// A counter of this thread's user-space instructions; fd -1 if perf events are not allowed.
class InstructionCounter {
 public:
  InstructionCounter() {
    perf_event_attr attr{};
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_HARDWARE;
    attr.config = PERF_COUNT_HW_INSTRUCTIONS;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    fd_ = static_cast<int>(syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
  }
  ~InstructionCounter() {
    if (fd_ >= 0) close(fd_);
  }
  InstructionCounter(const InstructionCounter&) = delete;
  InstructionCounter& operator=(const InstructionCounter&) = delete;
  // Instructions so far; 0 if not counting.
  double Read() const {
    uint64_t value = 0;
    if (fd_ < 0 || read(fd_, &value, sizeof value) != sizeof value) return 0;
    return static_cast<double>(value);
  }

 private:
  int fd_ = -1;
};

const InstructionCounter& Counter() {
  static InstructionCounter counter;
  return counter;
}

// Runs op (which returns false on failure) until `seconds` of CPU time have passed.
Result Measure(const std::string& name, double seconds, const std::function<bool(long)>& op) {
  for (long i = 0; i < 3; ++i) {  // warm-up: lazily built tables, PSA key slots
    if (!op(i)) {
      std::fprintf(stderr, "crypto_floor: %s failed\n", name.c_str());
      std::exit(1);
    }
  }
  long n = 0;
  const double instructions_start = Counter().Read();
  const double start = ThreadSeconds();
  double now = start;
  while (now - start < seconds || n < 10) {
    if (!op(n)) {
      std::fprintf(stderr, "crypto_floor: %s failed\n", name.c_str());
      std::exit(1);
    }
    ++n;
    now = ThreadSeconds();
  }
  const double instructions = Counter().Read() - instructions_start;
  return Result{name, (now - start) * 1e6 / static_cast<double>(n), n,
                instructions / static_cast<double>(n)};
}

// ECDHE as mbedTLS's TLS 1.3 server does it: an ephemeral PSA key, its public half exported for
// the key_share, later one raw key agreement with the client's share, then the key destroyed.
struct Ecdhe {
  psa_key_type_t type;
  size_t bits;

  psa_key_attributes_t Attributes() const {
    psa_key_attributes_t a = PSA_KEY_ATTRIBUTES_INIT;
    psa_set_key_type(&a, type);
    psa_set_key_bits(&a, bits);
    psa_set_key_usage_flags(&a, PSA_KEY_USAGE_DERIVE);
    psa_set_key_algorithm(&a, PSA_ALG_ECDH);
    return a;
  }
  bool Generate(psa_key_id_t* key, unsigned char* pub, size_t* pub_len) const {
    psa_key_attributes_t a = Attributes();
    if (psa_generate_key(&a, key) != PSA_SUCCESS) return false;
    return psa_export_public_key(*key, pub, PSA_EXPORT_PUBLIC_KEY_MAX_SIZE, pub_len) ==
           PSA_SUCCESS;
  }
};

std::vector<Result> MeasureEcdhe(const char* label, const Ecdhe& group, double seconds) {
  std::vector<Result> out;
  out.push_back(Measure(std::string(label) + " keygen", seconds, [&](long) {
    psa_key_id_t key = 0;
    unsigned char pub[PSA_EXPORT_PUBLIC_KEY_MAX_SIZE];
    size_t pub_len = 0;
    const bool ok = group.Generate(&key, pub, &pub_len);
    psa_destroy_key(key);
    return ok;
  }));
  psa_key_id_t ours = 0, peer = 0;
  unsigned char our_pub[PSA_EXPORT_PUBLIC_KEY_MAX_SIZE], peer_pub[PSA_EXPORT_PUBLIC_KEY_MAX_SIZE];
  size_t our_len = 0, peer_len = 0;
  if (!group.Generate(&ours, our_pub, &our_len) || !group.Generate(&peer, peer_pub, &peer_len)) {
    std::fprintf(stderr, "crypto_floor: %s key generation failed\n", label);
    std::exit(1);
  }
  out.push_back(Measure(std::string(label) + " shared secret", seconds, [&](long) {
    unsigned char secret[PSA_RAW_KEY_AGREEMENT_OUTPUT_MAX_SIZE];
    size_t len = 0;
    return psa_raw_key_agreement(PSA_ALG_ECDH, ours, peer_pub, peer_len, secret, sizeof secret,
                                 &len) == PSA_SUCCESS;
  }));
  psa_destroy_key(ours);
  psa_destroy_key(peer);
  return out;
}

// Signature and verification through the legacy pk layer, as the daemon's TLS code and ca/ do.
// Each iteration signs a different digest. The verifying key is parsed from the public key's
// DER, like a key taken from a certificate.
std::vector<Result> MeasureSignature(const char* label, mbedtls_pk_context* key,
                                     mbedtls_md_type_t md, size_t hash_len, ca::Rng rng,
                                     double seconds) {
  std::vector<Result> out;
  auto digest = [hash_len](long i) {
    std::vector<unsigned char> h(hash_len, 0x5a);
    std::memcpy(h.data(), &i, sizeof i);
    return h;
  };
  out.push_back(Measure(std::string(label) + " sign", seconds, [&](long i) {
    auto h = digest(i);
    unsigned char sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
    size_t len = 0;
    return mbedtls_pk_sign(key, md, h.data(), h.size(), sig, sizeof sig, &len, rng.fill,
                           rng.state) == 0;
  }));
  unsigned char der[1024];
  int der_len = mbedtls_pk_write_pubkey_der(key, der, sizeof der);
  base::Scoped<mbedtls_pk_context, mbedtls_pk_init, mbedtls_pk_free> pub;
  if (der_len <= 0 ||
      mbedtls_pk_parse_public_key(pub.get(), der + sizeof der - der_len, der_len) != 0) {
    std::fprintf(stderr, "crypto_floor: %s public key\n", label);
    std::exit(1);
  }
  auto h = digest(7);
  unsigned char sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
  size_t sig_len = 0;
  if (mbedtls_pk_sign(key, md, h.data(), h.size(), sig, sizeof sig, &sig_len, rng.fill,
                      rng.state) != 0) {
    std::exit(1);
  }
  out.push_back(Measure(std::string(label) + " verify", seconds, [&](long) {
    return mbedtls_pk_verify(pub.get(), md, h.data(), h.size(), sig, sig_len) == 0;
  }));
  return out;
}

using Pk = base::Scoped<mbedtls_pk_context, mbedtls_pk_init, mbedtls_pk_free>;

bool GenerateEc(Pk& pk, mbedtls_ecp_group_id curve, ca::Rng rng) {
  return mbedtls_pk_setup(pk.get(), mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) == 0 &&
         mbedtls_ecp_gen_key(curve, mbedtls_pk_ec(*pk.get()), rng.fill, rng.state) == 0;
}

bool GenerateRsa(Pk& pk, ca::Rng rng) {
  return mbedtls_pk_setup(pk.get(), mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)) == 0 &&
         mbedtls_rsa_gen_key(mbedtls_pk_rsa(*pk.get()), rng.fill, rng.state, 2048, 65537) == 0;
}

const Result& Find(const std::vector<Result>& all, const std::string& name) {
  static const Result kNone;
  for (const auto& r : all) {
    if (r.name == name) return r;
  }
  return kNone;
}

// Sums the floor's operations (see the top of this file), time and instructions.
Result Floor(const std::vector<Result>& all, const std::string& name, const char* kex) {
  const Result& sign = Find(all, "ECDSA P-256 sign");
  const Result& verify = Find(all, "ECDSA P-256 verify");
  const Result& keygen = Find(all, std::string(kex) + " keygen");
  const Result& shared = Find(all, std::string(kex) + " shared secret");
  auto sum = [&](double Result::*field) {
    return keygen.*field + shared.*field + 2 * (sign.*field) + 4 * (verify.*field);
  };
  return Result{name, sum(&Result::us_per_op), 0, sum(&Result::instructions)};
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 1.0;
  std::string tsv_path;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--seconds" && i + 1 < argc) {
      seconds = std::stod(argv[++i]);
    } else if (arg == "--tsv" && i + 1 < argc) {
      tsv_path = argv[++i];
    } else {
      std::fprintf(stderr, "usage: crypto_floor [--seconds S] [--tsv FILE]\n");
      return 2;
    }
  }
  if (psa_crypto_init() != PSA_SUCCESS) {
    std::fputs("crypto_floor: psa_crypto_init failed\n", stderr);
    return 1;
  }
  auto drbg = ca::Drbg::FromSystemEntropy();
  if (!drbg) {
    std::fprintf(stderr, "crypto_floor: %s\n", drbg.error().detail.c_str());
    return 1;
  }
  ca::Rng rng = (*drbg)->rng();

  std::vector<Result> all;
  auto add = [&all](std::vector<Result> more) {
    for (auto& r : more) all.push_back(std::move(r));
  };
  add(MeasureEcdhe("X25519", {PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_MONTGOMERY), 255}, seconds));
  add(MeasureEcdhe("ECDH P-256", {PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1), 256},
                   seconds));
  Pk p256, p384, rsa;
  if (!GenerateEc(p256, MBEDTLS_ECP_DP_SECP256R1, rng) ||
      !GenerateEc(p384, MBEDTLS_ECP_DP_SECP384R1, rng) || !GenerateRsa(rsa, rng)) {
    std::fputs("crypto_floor: key generation failed\n", stderr);
    return 1;
  }
  add(MeasureSignature("ECDSA P-256", p256.get(), MBEDTLS_MD_SHA256, 32, rng, seconds));
  // Not in the floor: the alternatives the signature-algorithm choice weighs.
  add(MeasureSignature("ECDSA P-384", p384.get(), MBEDTLS_MD_SHA384, 48, rng, seconds));
  add(MeasureSignature("RSA-2048 PKCS#1 v1.5", rsa.get(), MBEDTLS_MD_SHA256, 32, rng, seconds));

  all.push_back(Floor(all, "floor (X25519 + 2 sign + 4 verify)", "X25519"));
  all.push_back(Floor(all, "floor (P-256 ECDH + 2 sign + 4 verify)", "ECDH P-256"));

  std::printf("%-40s %12s %12s %10s %14s\n", "operation (mbedTLS " MBEDTLS_VERSION_STRING ")",
              "us/op", "ops/s/core", "runs", "instr/op");
  for (const auto& r : all) {
    const std::string instructions =
        r.instructions > 0 ? std::to_string(static_cast<long long>(r.instructions)) : "n/a";
    std::printf("%-40s %12.1f %12.0f %10ld %14s\n", r.name.c_str(), r.us_per_op,
                1e6 / r.us_per_op, r.ops, instructions.c_str());
  }
  if (!tsv_path.empty()) {
    FILE* f = std::fopen(tsv_path.c_str(), "w");
    if (f == nullptr) {
      std::perror(tsv_path.c_str());
      return 1;
    }
    for (const auto& r : all) {
      std::fprintf(f, "%s\t%.1f\t%.0f\t%ld\t%.0f\n", r.name.c_str(), r.us_per_op,
                   1e6 / r.us_per_op, r.ops, r.instructions);
    }
    std::fclose(f);
  }
  return 0;
}
