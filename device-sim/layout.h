// layout.h — where the fleet directory keeps things; the one place that names those paths.
//   DIR/factory-ca.crt, DIR/factory-ca.key           the manufacturer CA (key 0600)
//   DIR/devices/<id>/bootstrap.{crt,key}             factory identity (key 0600)
//   DIR/devices/<id>/operational.{crt,key}           written by enroll / reenroll (key 0600)
#pragma once

#include <string>
#include <string_view>

#include "ca/cert.h"

namespace devsim {

inline constexpr std::string_view kFactoryCaCert = "factory-ca.crt";
inline constexpr std::string_view kFactoryCaKey = "factory-ca.key";
inline constexpr std::string_view kBootstrapCert = "bootstrap.crt";
inline constexpr std::string_view kBootstrapKey = "bootstrap.key";
inline constexpr std::string_view kOperationalCert = "operational.crt";
inline constexpr std::string_view kOperationalKey = "operational.key";

inline std::string JoinPath(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (!out.empty() && out.back() != '/') out += '/';
  out += name;
  return out;
}

inline std::string DevicesDir(std::string_view fleet_dir) { return JoinPath(fleet_dir, "devices"); }

inline std::string DeviceDir(std::string_view fleet_dir, std::string_view id) {
  return JoinPath(DevicesDir(fleet_dir), id);
}

// Device ids double as directory names: on top of ca::IsValidDeviceId they must be a single path
// component that is not hidden (so never "." or "..").
inline bool IsUsableDeviceId(std::string_view id) {
  return ca::IsValidDeviceId(id) && id.find('/') == std::string_view::npos && id.front() != '.';
}

}  // namespace devsim
