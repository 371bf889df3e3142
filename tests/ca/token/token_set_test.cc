// token_set_test.cc — one module per process (ca::token::TokenSet) and several key pairs in one
// token (Token's KeyName methods), against a real SoftHSM2 token: what a CA rollover with the
// key in a token needs.
#include "ca/token/token_set.h"

#include <doctest/doctest.h>
#include <mbedtls/pk.h>

#include <array>

#include "base/scoped.h"
#include "ca/rng.h"
#include "tests/ca/token/softhsm_fixture.h"

namespace ca::token {
namespace {

using testing::Pin;
using testing::SoftHsm;

// A PIN source that counts how often it is asked.
TokenSet::PinSource CountingPin(int& asked) {
  return [&asked]() -> Result<base::Secret> {
    ++asked;
    return Pin();
  };
}

// One signature by key that verifies under its PublicKeyDer.
bool SignsAndVerifies(CaKey& key) {
  auto drbg = Drbg::ForTesting(std::array<unsigned char, 4>{4, 3, 2, 1});
  std::array<unsigned char, kSha256Bytes> digest{};
  digest[0] = 0x5A;
  auto signature = key.SignDigest(digest, drbg->rng());
  if (!signature) return false;
  base::Scoped<mbedtls_pk_context, mbedtls_pk_init, mbedtls_pk_free> pk;
  if (mbedtls_pk_parse_public_key(pk.get(), key.PublicKeyDer().data(), key.PublicKeyDer().size()) !=
      0) {
    return false;
  }
  return mbedtls_pk_verify(pk.get(), MBEDTLS_MD_SHA256, digest.data(), digest.size(),
                           signature->data(), signature->size()) == 0;
}

const KeyName kFirst{.label = "ca", .id = {0xCA, 0x01}};
const KeyName kSecond{.label = "ca-gen2", .id = {0x6E, 0x02, 0x33}};

}  // namespace

TEST_CASE("TokenSet opens a module once: a second URI in it shares the Token and its login") {
  SoftHsm hsm;
  TokenSet tokens;
  int asked = 0;
  auto first = tokens.Open(hsm.Uri(), CountingPin(asked));
  REQUIRE_MESSAGE(first.has_value(), first.error().detail);
  Pkcs11Uri second_uri = hsm.Uri();
  second_uri.object = kSecond.label;
  second_uri.id = kSecond.id;
  second_uri.pin_source = "/nonexistent/second-pin";  // not read: the module is open already
  auto second = tokens.Open(second_uri, CountingPin(asked));
  REQUIRE_MESSAGE(second.has_value(), second.error().detail);
  CHECK(first->get() == second->get());
  CHECK(asked == 1);
  CHECK(tokens.size() == 1);
  CHECK((*second)->stats().logins == 1);
  CHECK((*second)->stats().errors.empty());
}

TEST_CASE("TokenSet refuses a second token in an open module, without asking for its PIN") {
  SoftHsm hsm;
  TokenSet tokens;
  int asked = 0;
  REQUIRE(tokens.Open(hsm.Uri(), CountingPin(asked)).has_value());
  Pkcs11Uri other = hsm.Uri();
  other.token = "another-token";
  auto refused = tokens.Open(other, CountingPin(asked));
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code == Code::kInvalidArgument);
  CHECK(refused.error().detail.find("a second token in the same module is not supported") !=
        std::string::npos);
  CHECK(asked == 1);
}

TEST_CASE("TokenSet passes a PIN source's failure and Token::Open's refusal on, keeps nothing") {
  SoftHsm hsm;
  TokenSet tokens;
  auto no_pin = tokens.Open(hsm.Uri(), []() -> Result<base::Secret> {
    return Fail(Code::kInvalidArgument, "token PIN: /x: no such file");
  });
  REQUIRE_FALSE(no_pin.has_value());
  CHECK(no_pin.error().detail == "token PIN: /x: no such file");
  auto wrong = tokens.Open(hsm.Uri(), [] { return Result<base::Secret>(Pin("wrong-pin-0000")); });
  REQUIRE_FALSE(wrong.has_value());
  CHECK(wrong.error().detail.find("CKR_PIN_INCORRECT") != std::string::npos);
  CHECK(tokens.size() == 0);
  int asked = 0;
  CHECK(tokens.Open(hsm.Uri(), CountingPin(asked)).has_value());  // the module was released
}

TEST_CASE("Two key pairs in one token: each generated, opened, signing and destroyed by name") {
  SoftHsm hsm;
  TokenSet tokens;
  int asked = 0;
  auto token = tokens.Open(hsm.Uri(), CountingPin(asked));
  REQUIRE(token.has_value());
  Token& t = **token;
  REQUIRE(t.GenerateKey(kFirst).has_value());
  REQUIRE(t.GenerateKey(kSecond).has_value());
  CHECK(t.GenerateKey(kSecond).error().code == Code::kInvalidArgument);  // exists
  CHECK(t.HasKey(kFirst).value_or(false));
  CHECK(t.HasKey(kSecond).value_or(false));
  CHECK(t.HasKey(KeyName{.label = "ca-gen2"}).value_or(false));  // by label alone
  CHECK_FALSE(t.HasKey(KeyName{.label = "ca-gen3"}).value_or(true));
  auto first = t.OpenKey(kFirst);
  auto second = t.OpenKey(kSecond);
  REQUIRE_MESSAGE(first.has_value(), first.error().detail);
  REQUIRE_MESSAGE(second.has_value(), second.error().detail);
  CHECK((*first)->PublicKeyDer() != (*second)->PublicKeyDer());
  CHECK(SignsAndVerifies(**first));
  CHECK(SignsAndVerifies(**second));
  CHECK(t.OpenKey().has_value());  // the URI's own key is kFirst (softhsm_fixture.h)
  CHECK((*t.OpenKey())->PublicKeyDer() == (*first)->PublicKeyDer());

  second->reset();
  REQUIRE(t.DestroyKey(kSecond).has_value());
  CHECK_FALSE(t.HasKey(kSecond).value_or(true));
  auto gone = t.OpenKey(kSecond);
  REQUIRE_FALSE(gone.has_value());
  CHECK(gone.error().code == Code::kInvalidArgument);
  CHECK(t.DestroyKey(kSecond).has_value());  // nothing left: still success
  CHECK(SignsAndVerifies(**first));          // the other pair is untouched
  // Both halves went: the same name can be generated again (GenerateKey refuses a public half).
  CHECK(t.GenerateKey(kSecond).has_value());
  CHECK(t.stats().logins == 1);
}

TEST_CASE("A key name with neither label nor id is refused (it would match every key)") {
  SoftHsm hsm;
  auto token = Token::Open(hsm.Uri(), Pin());
  REQUIRE(token.has_value());
  for (auto result : {(*token)->GenerateKey(KeyName{}), (*token)->DestroyKey(KeyName{})}) {
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().code == Code::kInvalidArgument);
  }
  CHECK_FALSE((*token)->HasKey(KeyName{}).has_value());
  CHECK_FALSE((*token)->OpenKey(KeyName{}).has_value());
}

TEST_CASE("A key from a TokenSet outlives the set: the module stays loaded while it is used") {
  SoftHsm hsm;
  std::unique_ptr<CaKey> key;
  {
    TokenSet tokens;
    int asked = 0;
    auto token = tokens.Open(hsm.Uri(), CountingPin(asked));
    REQUIRE(token.has_value());
    REQUIRE((*token)->GenerateKey(kFirst).has_value());
    auto opened = (*token)->OpenKey(kFirst);
    REQUIRE(opened.has_value());
    key = std::move(*opened);
  }
  CHECK(SignsAndVerifies(*key));
}

}  // namespace ca::token
