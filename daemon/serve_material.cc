// serve_material.cc — serve's TLS material from the state dir and the trust files (see
// serve_material.h).
#include "daemon/serve_material.h"

#include <utility>

#include "ca/cert.h"
#include "daemon/check_config.h"
#include "daemon/files.h"

namespace provisiond {

base::Result<tls::Material> LoadMaterial(const ServeConfig& config) {
  StatePaths paths(config.state_dir);
  tls::Material m;
  auto read = [](const std::string& path, std::string* out) -> base::Result<void> {
    auto data = ReadFile(path);
    if (!data) return std::unexpected(data.error());
    *out = std::move(*data);
    return {};
  };
  for (auto [path, out] :
       {std::pair{paths.ca_cert, &m.ca_cert_pem}, std::pair{paths.server_cert, &m.server_cert_pem},
        std::pair{paths.server_key, &m.server_key_pem}}) {
    if (auto r = read(path, out); !r) return std::unexpected(r.error());
  }
  auto issuing = ca::ParseCertificates(m.ca_cert_pem);
  if (!issuing) {
    return base::Fail(base::Code::kInvalidArgument, paths.ca_cert + ": " + issuing.error().detail);
  }
  for (const auto& trust : config.trust_paths) {
    auto files = ExpandTrustPath(trust);
    if (!files) return std::unexpected(files.error());
    for (const auto& f : *files) {
      std::string pem;
      if (auto r = read(f, &pem); !r) return std::unexpected(r.error());
      auto c = ca::ParseCertificates(pem);
      if (!c) {
        return base::Fail(base::Code::kInvalidArgument,
                          "trust store " + f + ": " + c.error().detail);
      }
      if (auto copy = ca::FindCaLookalike(*(*c)->get(), *(*issuing)->get())) {
        return base::Fail(base::Code::kInvalidArgument, TrustHoldsCaProblem(f, *copy));
      }
      m.trust_pems.push_back(std::move(pem));
    }
  }
  return m;
}

}  // namespace provisiond
