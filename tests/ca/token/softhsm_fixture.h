// softhsm_fixture.h — a throw-away SoftHSM2 token for the token tests: a temp dir with its own
// softhsm2.conf (SOFTHSM2_CONF set before any module is loaded) and a token initialised in it by
// softhsm2-util. The test PINs below are on the command line of that tool: fine for a token that
// lives for one test. Removed, with the temp dir, at the end.
#pragma once

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "base/secret.h"
#include "ca/token/token.h"

namespace ca::token::testing {

inline constexpr char kSoftHsmModule[] = "/usr/lib/softhsm/libsofthsm2.so";
inline constexpr char kLabel[] = "provisiond";
inline constexpr char kUserPin[] = "4321-test-user-pin";
inline constexpr char kSoPin[] = "8765-test-so-pin";

// Runs a shell command; its exit status (-1 if it did not exit).
inline int Run(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class SoftHsm {
 public:
  SoftHsm() {
    char name[] = "/tmp/provisiond-softhsm-XXXXXX";
    REQUIRE(::mkdtemp(name) != nullptr);
    dir_ = name;
    std::filesystem::create_directory(tokens());
    std::ofstream(dir_ / "softhsm2.conf") << "directories.tokendir = " << tokens().string()
                                          << "\nobjectstore.backend = file\nlog.level = ERROR\n"
                                          << "slots.removable = false\n";
    REQUIRE(::setenv("SOFTHSM2_CONF", (dir_ / "softhsm2.conf").c_str(), 1) == 0);
    REQUIRE(Run(std::string("softhsm2-util --init-token --free --label ") + kLabel + " --pin " +
                kUserPin + " --so-pin " + kSoPin + " >" + (dir_ / "init.log").string() + " 2>&1") ==
            0);
  }
  ~SoftHsm() {
    std::error_code ignored;
    std::filesystem::permissions(tokens(), std::filesystem::perms::owner_all, ignored);
    std::filesystem::remove_all(dir_, ignored);
  }
  SoftHsm(const SoftHsm&) = delete;
  SoftHsm& operator=(const SoftHsm&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path tokens() const { return dir_ / "tokens"; }
  // The one token directory softhsm2-util made (a UUID under tokens/).
  std::filesystem::path TokenDir() const {
    for (const auto& entry : std::filesystem::directory_iterator(tokens())) {
      if (entry.is_directory()) return entry.path();
    }
    return {};
  }

  // The URI of the CA key in this token, loaded directly (or through p11-kit's proxy).
  Pkcs11Uri Uri(bool through_proxy = false) const {
    Pkcs11Uri uri;
    uri.token = kLabel;
    uri.object = "ca";
    uri.id = {0xCA, 0x01};
    if (!through_proxy) uri.module_path = kSoftHsmModule;
    return uri;
  }

 private:
  std::filesystem::path dir_;
};

inline base::Secret Pin(const char* value = kUserPin) { return *base::Secret::From(value); }

}  // namespace ca::token::testing
