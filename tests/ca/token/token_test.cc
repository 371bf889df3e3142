// token_test.cc — ca::token::Token against a real SoftHSM2 token: Open's refusals, the generated
// key's attributes, signatures that verify (directly and through p11-kit's proxy).
#include "ca/token/token.h"

#include <dlfcn.h>
#include <doctest/doctest.h>
#include <mbedtls/pk.h>

#include <array>

#include "base/scoped.h"
#include "ca/rng.h"
#include "ca/token/impl.h"
#include "tests/ca/token/softhsm_fixture.h"

namespace ca::token {
namespace {

using testing::Pin;
using testing::SoftHsm;

std::shared_ptr<Token> OpenOrFail(const Pkcs11Uri& uri) {
  auto token = Token::Open(uri, Pin());
  if (!token) FAIL(token.error().detail);
  return *token;
}

// DER as X.690 wants it (mbedTLS's verify accepts a negative or zero-padded INTEGER): each of r
// and s minimal, positive.
bool IsStrictEcdsaDer(const base::Bytes& der) {
  if (der.size() < 8 || der[0] != 0x30 || der[1] != der.size() - 2) return false;
  size_t at = 2;
  for (int i = 0; i < 2; ++i) {
    if (at + 2 > der.size() || der[at] != 0x02) return false;
    const size_t size = der[at + 1];
    if (size == 0 || at + 2 + size > der.size()) return false;
    const unsigned char first = der[at + 2];
    if (first & 0x80) return false;                                        // negative
    if (first == 0 && (size == 1 || !(der[at + 3] & 0x80))) return false;  // not minimal
    at += 2 + size;
  }
  return at == der.size();
}

// Signs count digests and verifies each against PublicKeyDer with mbedTLS.
void SignAndVerify(CaKey& key, int count) {
  auto drbg = Drbg::ForTesting(std::array<unsigned char, 4>{1, 2, 3, 4});
  base::Scoped<mbedtls_pk_context, mbedtls_pk_init, mbedtls_pk_free> pk;
  REQUIRE(mbedtls_pk_parse_public_key(pk.get(), key.PublicKeyDer().data(),
                                      key.PublicKeyDer().size()) == 0);
  for (int i = 0; i < count; ++i) {
    std::array<unsigned char, kSha256Bytes> digest{};
    REQUIRE(drbg->rng().fill(drbg->rng().state, digest.data(), digest.size()) == 0);
    auto signature = key.SignDigest(digest, drbg->rng());
    REQUIRE_MESSAGE(signature.has_value(), signature.error().detail);
    REQUIRE(IsStrictEcdsaDer(*signature));
    REQUIRE(mbedtls_pk_verify(pk.get(), MBEDTLS_MD_SHA256, digest.data(), digest.size(),
                              signature->data(), signature->size()) == 0);
  }
}

// CK_BBOOL attributes of the one private key, read through the function list.
std::map<CK_ATTRIBUTE_TYPE, bool> PrivateKeyFlags(const SoftHsm& hsm) {
  void* library = ::dlopen(testing::kSoftHsmModule, RTLD_NOW);
  REQUIRE(library != nullptr);
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(library, "C_GetFunctionList"));
  CK_FUNCTION_LIST* fl = nullptr;
  REQUIRE(get_list(&fl) == CKR_OK);
  CK_C_INITIALIZE_ARGS args = OsLockingArgs();
  REQUIRE(fl->C_Initialize(&args) == CKR_OK);
  CK_ULONG count = 8;
  std::array<CK_SLOT_ID, 8> slots{};
  REQUIRE(fl->C_GetSlotList(CK_TRUE, slots.data(), &count) == CKR_OK);
  std::map<CK_ATTRIBUTE_TYPE, bool> flags;
  for (CK_ULONG i = 0; i < count; ++i) {
    CK_TOKEN_INFO info{};
    fl->C_GetTokenInfo(slots[i], &info);
    if (std::string_view(reinterpret_cast<char*>(info.label), 10) != testing::kLabel) continue;
    CK_SESSION_HANDLE session = 0;
    REQUIRE(fl->C_OpenSession(slots[i], CKF_SERIAL_SESSION, nullptr, nullptr, &session) == CKR_OK);
    REQUIRE(fl->C_Login(session, CKU_USER, (CK_UTF8CHAR*)testing::kUserPin,
                        std::string_view(testing::kUserPin).size()) == CKR_OK);
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE query = {CKA_CLASS, &cls, sizeof cls};
    CK_OBJECT_HANDLE key = 0;
    CK_ULONG found = 0;
    REQUIRE(fl->C_FindObjectsInit(session, &query, 1) == CKR_OK);
    REQUIRE(fl->C_FindObjects(session, &key, 1, &found) == CKR_OK);
    fl->C_FindObjectsFinal(session);
    REQUIRE(found == 1);
    for (CK_ATTRIBUTE_TYPE type :
         {CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE, CKA_SIGN,
          CKA_DECRYPT, CKA_DERIVE, CKA_UNWRAP, CKA_TOKEN, CKA_PRIVATE}) {
      CK_BBOOL value = CK_FALSE;
      CK_ATTRIBUTE attribute = {type, &value, sizeof value};
      REQUIRE(fl->C_GetAttributeValue(session, key, &attribute, 1) == CKR_OK);
      flags[type] = value == CK_TRUE;
    }
    CK_BYTE secret[64];
    CK_ATTRIBUTE value = {CKA_VALUE, secret, sizeof secret};
    CHECK(fl->C_GetAttributeValue(session, key, &value, 1) == CKR_ATTRIBUTE_SENSITIVE);
  }
  fl->C_Finalize(nullptr);
  ::dlclose(library);
  (void)hsm;
  return flags;
}

}  // namespace

TEST_CASE("Token::Open with the right PIN logs in once") {
  SoftHsm hsm;
  auto token = OpenOrFail(hsm.Uri());
  CHECK(token->stats().logins == 1);
  CHECK(token->stats().errors.empty());
  CHECK(token->HasKey().value_or(true) == false);
}

TEST_CASE("Token::Open refuses a module another Token of this process has initialised") {
  SoftHsm hsm;
  auto first = OpenOrFail(hsm.Uri());
  auto second = Token::Open(hsm.Uri(), Pin());
  REQUIRE_FALSE(second.has_value());
  CHECK(second.error().code == Code::kInvalidArgument);
  CHECK(second.error().detail == std::string(testing::kSoftHsmModule) +
                                     ": C_Initialize: CKR_CRYPTOKI_ALREADY_INITIALIZED (already "
                                     "in use in this process)");
  CHECK(first->HasKey().has_value());  // the failed second Open did not finalize the first's
}

TEST_CASE("Token::Open refuses a wrong PIN without showing it") {
  SoftHsm hsm;
  auto token = Token::Open(hsm.Uri(), Pin("wrong-pin-0000"));
  REQUIRE_FALSE(token.has_value());
  CHECK(token.error().code == Code::kInvalidArgument);
  CHECK(token.error().detail.find("C_Login: CKR_PIN_INCORRECT") != std::string::npos);
  CHECK(token.error().detail.find("wrong-pin-0000") == std::string::npos);
}

TEST_CASE("Token::Open refuses a module path that is not a PKCS#11 module") {
  SoftHsm hsm;
  Pkcs11Uri uri = hsm.Uri();
  uri.module_path = "/lib/x86_64-linux-gnu/libz.so.1";
  auto token = Token::Open(uri, Pin());
  REQUIRE_FALSE(token.has_value());
  CHECK(token.error().code == Code::kInvalidArgument);
  CHECK(token.error().detail ==
        "/lib/x86_64-linux-gnu/libz.so.1 is not a PKCS#11 module (no C_GetFunctionList)");
}

TEST_CASE("Token::Open refuses a missing module file") {
  SoftHsm hsm;
  Pkcs11Uri uri = hsm.Uri();
  uri.module_path = hsm.dir().string() + "/missing.so";
  auto token = Token::Open(uri, Pin());
  REQUIRE_FALSE(token.has_value());
  CHECK(token.error().code == Code::kInvalidArgument);
  CHECK(token.error().detail.starts_with(uri.module_path + ": cannot load: "));
}

TEST_CASE("Token::Open refuses a token label that does not exist") {
  SoftHsm hsm;
  Pkcs11Uri uri = hsm.Uri();
  uri.token = "no-such-token";
  auto token = Token::Open(uri, Pin());
  REQUIRE_FALSE(token.has_value());
  CHECK(token.error().code == Code::kInvalidArgument);
  CHECK(token.error().detail.find("no token matches pkcs11:token=no-such-token") !=
        std::string::npos);
}

TEST_CASE("GenerateKey makes a sign-only, sensitive, never-extractable P-256 key, once") {
  SoftHsm hsm;
  {
    auto token = OpenOrFail(hsm.Uri());
    CHECK(token->OpenKey().error().code == Code::kInvalidArgument);  // no key yet
    REQUIRE(token->GenerateKey().has_value());
    CHECK(token->HasKey().value_or(false) == true);
    auto again = token->GenerateKey();
    REQUIRE_FALSE(again.has_value());
    CHECK(again.error().code == Code::kInvalidArgument);
    CHECK(again.error().detail.find("already holds a key") != std::string::npos);
  }
  auto flags = PrivateKeyFlags(hsm);
  CHECK(flags[CKA_SENSITIVE]);
  CHECK_FALSE(flags[CKA_EXTRACTABLE]);
  CHECK(flags[CKA_ALWAYS_SENSITIVE]);
  CHECK(flags[CKA_NEVER_EXTRACTABLE]);
  CHECK(flags[CKA_SIGN]);
  CHECK_FALSE(flags[CKA_DECRYPT]);
  CHECK_FALSE(flags[CKA_DERIVE]);
  CHECK_FALSE(flags[CKA_UNWRAP]);
  CHECK(flags[CKA_TOKEN]);
  CHECK(flags[CKA_PRIVATE]);
}

// The same attributes as pkcs11-tool and p11tool print them (the user PIN on their command line is
// the throw-away test token's).
TEST_CASE(
    "pkcs11-tool and p11tool show the generated key as sign-only, sensitive, non-extractable") {
  SoftHsm hsm;
  {
    auto token = OpenOrFail(hsm.Uri());
    REQUIRE(token->GenerateKey().has_value());
  }
  const std::string pin = testing::kUserPin;
  const auto listing = hsm.dir() / "listing.txt";
  REQUIRE(testing::Run(std::string("pkcs11-tool --module ") + testing::kSoftHsmModule +
                       " --token-label provisiond --list-objects --login --pin " + pin + " >" +
                       listing.string() + " 2>&1") == 0);
  const std::string objects = testing::ReadAll(listing);
  INFO(objects);
  const size_t private_key = objects.find("Private Key Object; EC");
  REQUIRE(private_key != std::string::npos);
  const std::string private_part = objects.substr(private_key);
  CHECK(private_part.find("Usage:      sign\n") != std::string::npos);
  CHECK(private_part.find("Access:     sensitive, always sensitive, never extractable, local") !=
        std::string::npos);
  CHECK(objects.find("EC_PARAMS:  06082a8648ce3d030107") != std::string::npos);  // P-256

  const auto flags_file = hsm.dir() / "p11tool.txt";
  REQUIRE(testing::Run(std::string("p11tool --provider ") + testing::kSoftHsmModule +
                       " --list-all-privkeys --login --set-pin=" + pin +
                       " 'pkcs11:token=provisiond' >" + flags_file.string() + " 2>&1") == 0);
  const std::string flags = testing::ReadAll(flags_file);
  INFO(flags);
  CHECK(flags.find("Type: Private key (EC/ECDSA-SECP256R1)") != std::string::npos);
  CHECK(flags.find("CKA_SENSITIVE") != std::string::npos);
  CHECK(flags.find("CKA_NEVER_EXTRACTABLE") != std::string::npos);
  CHECK(flags.find("CKA_EXTRACTABLE") == std::string::npos);
  CHECK(flags.find("UNWRAP") == std::string::npos);
}

TEST_CASE("SignDigest: 100 signatures verify against PublicKeyDer") {
  SoftHsm hsm;
  auto token = OpenOrFail(hsm.Uri());
  REQUIRE(token->GenerateKey().has_value());
  auto key = token->OpenKey();
  REQUIRE_MESSAGE(key.has_value(), key.error().detail);
  CHECK(std::string((*key)->Kind()) == "pkcs11");
  SignAndVerify(**key, 100);
  CHECK(token->stats().signatures == 100);
  CHECK(token->stats().errors.empty());
  token.reset();  // the CaKey keeps the module loaded
  SignAndVerify(**key, 1);
}

TEST_CASE("The same token through p11-kit's proxy module") {
  SoftHsm hsm;
  auto token = Token::Open(hsm.Uri(/*through_proxy=*/true), Pin());
  REQUIRE_MESSAGE(token.has_value(), token.error().detail);
  REQUIRE((*token)->GenerateKey().has_value());
  auto key = (*token)->OpenKey();
  REQUIRE_MESSAGE(key.has_value(), key.error().detail);
  SignAndVerify(**key, 20);
  CHECK(ModulePath(hsm.Uri(true)).ends_with("p11-kit-proxy.so"));
}

}  // namespace ca::token
