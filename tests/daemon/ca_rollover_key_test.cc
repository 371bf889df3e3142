// ca_rollover_key_test.cc — the new CA generation's key (daemon/ca_rollover_key.h) and
// OpenGenerationKey with the key in a real SoftHSM2 token: made in the token beside the current
// key, recorded in ca.key.uri, opened through the same module, destroyed again when the rollover
// fails after making it.
#include "daemon/ca_rollover_key.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "ca/keys.h"
#include "ca/rng.h"
#include "daemon/ca_generations.h"
#include "tests/ca/token/softhsm_fixture.h"

namespace provisiond {
namespace {

namespace fs = std::filesystem;
using ca::token::testing::SoftHsm;

// A state dir in the SoftHSM's temp dir whose generation 1 key is the token's "ca" pair.
struct TokenState {
  SoftHsm hsm;
  std::string state = (hsm.dir() / "state").string();
  std::shared_ptr<ca::token::TokenSet> tokens = std::make_shared<ca::token::TokenSet>();
  std::unique_ptr<ca::Drbg> drbg = ca::Drbg::ForTesting(std::array<unsigned char, 2>{7, 9});

  TokenState() {
    fs::create_directory(state);
    const std::string pin = (hsm.dir() / "pin").string();
    std::ofstream(pin) << ca::token::testing::kUserPin << "\n";
    REQUIRE(::chmod(pin.c_str(), 0600) == 0);
    ca::token::Pkcs11Uri uri = hsm.Uri();
    uri.pin_source = pin;
    std::ofstream(state + "/ca.key.uri") << ca::token::FormatUri(uri) << "\n";
    auto opened = CaKeySource::OpenToken(CaKeyOptions{.uri = ca::token::FormatUri(uri)}, tokens);
    REQUIRE_MESSAGE(opened.has_value(), opened.error().detail);
    REQUIRE((*opened)->token()->GenerateKey().has_value());
  }
  std::unique_ptr<CaKeySource> Current() {
    auto source = OpenGenerationKey(state, 1, CaKeyOptions{}, drbg->rng(), tokens);
    REQUIRE_MESSAGE(source.has_value(), source.error().detail);
    return std::move(*source);
  }
  std::string Dir(int gen) {
    const std::string dir = GenerationDir(state, gen);
    fs::create_directory(dir);
    return dir;
  }
  bool HasLabel(const std::string& label) {
    return tokens->Open(hsm.Uri(), [] { return ca::Result<base::Secret>(base::Secret()); })
        .value()
        ->HasKey(ca::token::KeyName{.label = label})
        .value();
  }
};

}  // namespace

TEST_CASE("GenerationLabel: <label>-gen<N>, a previous -gen<N> replaced") {
  CHECK(GenerationLabel("ca", 2) == "ca-gen2");
  CHECK(GenerationLabel("ca-gen2", 3) == "ca-gen3");
  CHECK(GenerationLabel("my-genesis", 2) == "my-genesis-gen2");
  CHECK(GenerationLabel("ca-gen", 2) == "ca-gen-gen2");
  CHECK(GenerationLabel("", 4) == "ca-gen4");
}

TEST_CASE("Rollover key in a token: generated there, named in ca.key.uri, opened via one module") {
  TokenState t;
  auto current = t.Current();
  const std::string dir = t.Dir(2);
  auto made = RolloverKey::Make(*current, dir, 2, t.drbg->rng());
  REQUIRE_MESSAGE(made.has_value(), made.error().detail);
  CHECK((*made)->location() == "ca-gen2/ca.key.uri");
  CHECK_FALSE(fs::exists(dir + "/ca.key"));
  const std::string recorded = ca::token::testing::ReadAll(dir + "/ca.key.uri");
  auto uri = ca::token::ParseUri(recorded.substr(0, recorded.find('\n')));
  REQUIRE(uri.has_value());
  CHECK(uri->object == "ca-gen2");
  CHECK(uri->id.size() == 16);
  CHECK(uri->token == "provisiond");
  CHECK(uri->pin_source == (t.hsm.dir() / "pin").string());
  CHECK_FALSE(uri->pin_value.has_value());
  CHECK(t.HasLabel("ca-gen2"));
  // Generation 2's key through the one function serve uses, in the same module: one Token.
  auto second = OpenGenerationKey(t.state, 2, CaKeyOptions{}, t.drbg->rng(), t.tokens);
  REQUIRE_MESSAGE(second.has_value(), second.error().detail);
  CHECK((*second)->token() == current->token());
  CHECK(t.tokens->size() == 1);
  auto key = (*second)->NewKey(t.drbg->rng());
  REQUIRE(key.has_value());
  CHECK((*key)->PublicKeyDer() == (*made)->key().PublicKeyDer());
  CHECK((*key)->PublicKeyDer() != current->NewKey(t.drbg->rng()).value()->PublicKeyDer());
  CHECK(current->token()->stats().logins == 1);
}

TEST_CASE("Rollover key in a token: a failure after generating destroys the pair again") {
  TokenState t;
  auto current = t.Current();
  const std::string dir = t.Dir(2);
  std::ofstream(dir + "/ca.key.uri") << "in the way\n";  // WriteNewFile (O_EXCL) fails
  auto made = RolloverKey::Make(*current, dir, 2, t.drbg->rng());
  REQUIRE_FALSE(made.has_value());
  CHECK(made.error().detail.find("ca.key.uri") != std::string::npos);
  CHECK(made.error().detail.find("left in the token") == std::string::npos);
  CHECK_FALSE(t.HasLabel("ca-gen2"));
  CHECK(t.HasLabel("ca"));  // the current key is untouched
  fs::remove(dir + "/ca.key.uri");
  auto again = RolloverKey::Make(*current, dir, 2, t.drbg->rng());  // a re-run works
  REQUIRE_MESSAGE(again.has_value(), again.error().detail);
  CHECK((*again)->Discard().empty());  // what ca rollover does when the store refuses
  CHECK_FALSE(t.HasLabel("ca-gen2"));
}

TEST_CASE("Rollover key in a token: a key already labelled so is refused, and kept") {
  TokenState t;
  auto current = t.Current();
  REQUIRE(current->token()->GenerateKey(ca::token::KeyName{.label = "ca-gen2"}).has_value());
  const std::string dir = t.Dir(2);
  auto made = RolloverKey::Make(*current, dir, 2, t.drbg->rng());
  REQUIRE_FALSE(made.has_value());
  CHECK(made.error().detail.find("already holds a key labelled ca-gen2") != std::string::npos);
  CHECK(t.HasLabel("ca-gen2"));
  CHECK_FALSE(fs::exists(dir + "/ca.key.uri"));
}

TEST_CASE("Rollover key in a file: ca.key 0600, no token") {
  SoftHsm hsm;  // only for its temp dir
  const std::string dir = (hsm.dir() / "ca-gen2").string();
  fs::create_directory(dir);
  const std::string key_path = (hsm.dir() / "ca.key").string();
  auto drbg = ca::Drbg::ForTesting(std::array<unsigned char, 1>{3});
  auto generated = ca::PrivateKey::GenerateP256(drbg->rng());
  REQUIRE(generated.has_value());
  std::ofstream(key_path) << (*generated)->ToPem().value();
  auto current = OpenGenerationKey(hsm.dir().string(), 1, CaKeyOptions{}, drbg->rng(), nullptr);
  REQUIRE_MESSAGE(current.has_value(), current.error().detail);
  auto made = RolloverKey::Make(**current, dir, 2, drbg->rng());
  REQUIRE_MESSAGE(made.has_value(), made.error().detail);
  CHECK((*made)->location() == "ca-gen2/ca.key");
  CHECK((fs::status(dir + "/ca.key").permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write));
  CHECK_FALSE(fs::exists(dir + "/ca.key.uri"));
  CHECK((*made)->Discard().empty());
}

}  // namespace provisiond
