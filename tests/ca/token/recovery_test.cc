// recovery_test.cc — the token CaKey under load and faults on a real SoftHSM2: two signing threads,
// sessions closed underneath (C_CloseAllSessions from a third thread), the token's directory
// taken away and given back.
#include <dlfcn.h>
#include <doctest/doctest.h>
#include <mbedtls/pk.h>

#include <array>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <shared_mutex>
#include <thread>

#include "base/scoped.h"
#include "ca/token/impl.h"
#include "tests/ca/token/softhsm_fixture.h"

namespace ca::token {
namespace {

using testing::Pin;
using testing::SoftHsm;

struct Tally {
  std::atomic<int> ok{0}, unavailable{0}, other{0}, bad_signature{0};
  std::string last_error;  // written by one thread at a time only in the fault tests' asserts
};

// Signs count digests with key, verifying each; counts the outcomes. With between, each signature
// holds it shared, so a closer holding it exclusively acts only between two signatures.
void SignMany(CaKey& key, int count, Tally& tally, std::shared_mutex* between = nullptr) {
  base::Scoped<mbedtls_pk_context, mbedtls_pk_init, mbedtls_pk_free> pk;
  REQUIRE(mbedtls_pk_parse_public_key(pk.get(), key.PublicKeyDer().data(),
                                      key.PublicKeyDer().size()) == 0);
  std::array<unsigned char, kSha256Bytes> digest{};
  for (int i = 0; i < count; ++i) {
    digest[i % digest.size()] ^= static_cast<unsigned char>(i + 1);
    std::shared_lock<std::shared_mutex> hold;
    if (between != nullptr) hold = std::shared_lock(*between);
    auto signature = key.SignDigest(digest, Rng{nullptr, nullptr});
    if (hold) hold.unlock();
    if (!signature) {
      (signature.error().code == Code::kUnavailable ? tally.unavailable : tally.other)++;
      continue;
    }
    if (mbedtls_pk_verify(pk.get(), MBEDTLS_MD_SHA256, digest.data(), digest.size(),
                          signature->data(), signature->size()) != 0) {
      tally.bad_signature++;
    } else {
      tally.ok++;
    }
  }
}

struct Setup {
  SoftHsm hsm;
  std::shared_ptr<Token> token;
  Setup() {
    auto opened = Token::Open(hsm.Uri(), Pin());
    REQUIRE_MESSAGE(opened.has_value(), opened.error().detail);
    token = *opened;
    REQUIRE(token->GenerateKey().has_value());
  }
  std::unique_ptr<CaKey> Key() {
    auto key = token->OpenKey();
    REQUIRE_MESSAGE(key.has_value(), key.error().detail);
    return std::move(*key);
  }
};

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// The module's function list as the test sees it: the same library instance the Token loaded
// (dlopen of the same path returns it), so C_CloseAllSessions acts on the Token's sessions.
class SameModule {
 public:
  SameModule() : library_(::dlopen(testing::kSoftHsmModule, RTLD_NOW | RTLD_NOLOAD)) {
    REQUIRE(library_ != nullptr);
    auto get_list = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(library_, "C_GetFunctionList"));
    REQUIRE(get_list(&fl_) == CKR_OK);
  }
  ~SameModule() { ::dlclose(library_); }
  CK_FUNCTION_LIST* fl() const { return fl_; }
  CK_SLOT_ID Slot() const {
    CK_ULONG count = 8;
    std::array<CK_SLOT_ID, 8> slots{};
    REQUIRE(fl_->C_GetSlotList(CK_TRUE, slots.data(), &count) == CKR_OK);
    for (CK_ULONG i = 0; i < count; ++i) {
      CK_TOKEN_INFO info{};
      if (fl_->C_GetTokenInfo(slots[i], &info) == CKR_OK &&
          std::string_view(reinterpret_cast<char*>(info.label), 10) == testing::kLabel) {
        return slots[i];
      }
    }
    FAIL("no slot");
    return 0;
  }

 private:
  void* library_;
  CK_FUNCTION_LIST* fl_ = nullptr;
};

}  // namespace

TEST_CASE("Two threads, each with its own CaKey, sign 500 times each without an error") {
  Setup setup;
  auto single = setup.Key();
  Tally warmup;
  const auto one_start = std::chrono::steady_clock::now();
  SignMany(*single, 500, warmup);
  const double one_thread = 500 / Seconds(one_start);
  CHECK(warmup.ok == 500);

  auto first = setup.Key();
  auto second = setup.Key();
  Tally tally;
  const auto start = std::chrono::steady_clock::now();
  std::thread a([&] { SignMany(*first, 500, tally); });
  std::thread b([&] { SignMany(*second, 500, tally); });
  a.join();
  b.join();
  const double two_threads = 1000 / Seconds(start);
  MESSAGE("SoftHSM signatures/s: one thread " << one_thread << ", two threads " << two_threads);
  CHECK(tally.ok == 1000);
  CHECK(tally.unavailable == 0);
  CHECK(tally.other == 0);
  CHECK(tally.bad_signature == 0);
  const Token::Stats stats = setup.token->stats();
  CHECK(stats.errors.empty());
  CHECK(stats.signatures == 1500);
  CHECK(stats.logins == 1);
  CHECK(stats.sessions_opened == 5);  // the login's, GenerateKey's, one per CaKey
}

// SoftHSM 2.6.1 frees a session in C_CloseAllSessions while another thread may be inside C_Sign or
// C_GetSessionInfo on it (seen: SIGSEGV in BN_num_bits under C_Sign, and in C_GetSessionInfo), so
// the closer strikes between signatures, never during one: each SignDigest may find its session
// (and the login) gone and must reopen, log in again and sign.
TEST_CASE("Sessions closed underneath while two threads sign: reopened transparently") {
  Setup setup;
  auto first = setup.Key();
  auto second = setup.Key();
  SameModule module;
  const CK_SLOT_ID slot = module.Slot();
  std::atomic<bool> done{false};
  std::atomic<int> closes{0};
  std::shared_mutex between;
  std::thread closer([&] {
    while (!done) {
      {
        std::unique_lock exclusive(between);
        CHECK(module.fl()->C_CloseAllSessions(slot) == CKR_OK);
      }
      closes++;
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
    }
  });
  Tally tally;
  std::thread a([&] { SignMany(*first, 400, tally, &between); });
  std::thread b([&] { SignMany(*second, 400, tally, &between); });
  a.join();
  b.join();
  done = true;
  closer.join();
  const Token::Stats stats = setup.token->stats();
  std::string errors;
  for (const auto& [name, count] : stats.errors) errors += name + "=" + std::to_string(count) + " ";
  MESSAGE("closes " << closes.load() << ", ok " << tally.ok.load() << ", unavailable "
                    << tally.unavailable.load() << ", logins " << stats.logins << ", sessions "
                    << stats.sessions_opened << ", errors " << errors);
  CHECK(closes > 10);
  CHECK(tally.other == 0);  // never kCrypto
  CHECK(tally.bad_signature == 0);
  CHECK(tally.ok + tally.unavailable == 800);
  CHECK(tally.ok == 800);   // the closer never strikes inside a signature: nothing to excuse
  CHECK(stats.logins > 1);  // the login was lost with the sessions, and made again
  Tally after;
  SignMany(*first, 10, after);
  SignMany(*second, 10, after);
  CHECK(after.ok == 20);
}

TEST_CASE("The token's directory taken away: kUnavailable; given back: signing resumes") {
  Setup setup;
  auto key = setup.Key();
  auto other = setup.Key();  // its session predates the re-initialisation and must not be closed
  Tally before;
  SignMany(*key, 5, before);
  SignMany(*other, 5, before);
  REQUIRE(before.ok == 10);
  // Unreadable (chmod 000) where that means something; root reads through it, so there the
  // directory is moved away instead.
  const bool as_root = ::geteuid() == 0;
  const std::filesystem::path dir = setup.hsm.TokenDir();
  const std::filesystem::path away = setup.hsm.dir() / "away";
  const auto take_away = [&] {
    if (as_root) return std::filesystem::rename(dir, away);
    std::filesystem::permissions(dir, std::filesystem::perms::none);
  };
  const auto give_back = [&] {
    if (as_root) return std::filesystem::rename(away, dir);
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all);
  };
  take_away();
  std::array<unsigned char, kSha256Bytes> digest{};
  auto failed = key->SignDigest(digest, Rng{nullptr, nullptr});
  std::string seen = failed ? "signed" : failed.error().detail;
  MESSAGE("token directory gone: " << seen);
  give_back();
  // The module is initialised again at most once per kReinitializeInterval; the failed attempt
  // above just did it.
  std::this_thread::sleep_for(Token::Impl::kReinitializeInterval + std::chrono::milliseconds(100));
  auto recovered = key->SignDigest(digest, Rng{nullptr, nullptr});
  MESSAGE("given back: " << (recovered ? "signed" : recovered.error().detail));
  std::string errors;
  for (const auto& [name, n] : setup.token->stats().errors)
    errors += name + "=" + std::to_string(n) + " ";
  MESSAGE("errors: " << errors);
  REQUIRE_FALSE(failed.has_value());
  CHECK(failed.error().code == Code::kUnavailable);
  CHECK(failed.error().detail.find(testing::kUserPin) == std::string::npos);
  REQUIRE(recovered.has_value());
  const auto error_count = [&] {
    uint64_t total = 0;
    for (const auto& [name, n] : setup.token->stats().errors) total += n;
    return total;
  };
  // New sessions after the re-initialisation: SoftHSM numbers handles afresh, so one of them may
  // carry the number other's stale session had.
  std::vector<std::unique_ptr<CaKey>> fresh;
  for (int i = 0; i < 6; ++i) fresh.push_back(setup.Key());
  const uint64_t errors_before = error_count();
  Tally after;
  SignMany(*other, 20, after);  // drops its stale session without C_CloseSession on its handle
  SignMany(*key, 20, after);
  for (auto& fresh_key : fresh) SignMany(*fresh_key, 2, after);
  CHECK(after.ok == 52);
  CHECK(error_count() == errors_before);
}

}  // namespace ca::token
