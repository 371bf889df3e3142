// uri.cc — RFC 7512 PKCS#11 URIs: the attributes provisiond understands, percent-decoded on the way
// in and encoded on the way out; anything else is refused with the attribute's name.
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "ca/token/token.h"

#ifndef PROVISIOND_P11_KIT_PROXY
#define PROVISIOND_P11_KIT_PROXY "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so"
#endif

namespace ca::token {
namespace {

constexpr std::string_view kScheme = "pkcs11:";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> PercentDecode(std::string_view name, std::string_view value) {
  std::string out;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '%') {
      out.push_back(value[i]);
      continue;
    }
    const int high = i + 2 < value.size() ? HexValue(value[i + 1]) : -1;
    const int low = i + 2 < value.size() ? HexValue(value[i + 2]) : -1;
    if (high < 0 || low < 0) {
      return Fail(Code::kInvalidArgument,
                  "PKCS#11 URI: bad percent escape in " + std::string(name));
    }
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

bool IsUnreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// Every byte outside RFC 3986's unreserved set is escaped, plus '/' kept in the query (paths);
// escaping more than RFC 7512 requires is always valid.
std::string PercentEncode(std::string_view value, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : value) {
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

Result<void> Refuse(std::string why) { return Fail(Code::kInvalidArgument, "PKCS#11 URI: " + why); }

Result<void> SetPathAttribute(Pkcs11Uri& uri, std::string_view name, const std::string& value) {
  if (name == "token") {
    uri.token = value;
  } else if (name == "manufacturer") {
    uri.manufacturer = value;
  } else if (name == "model") {
    uri.model = value;
  } else if (name == "serial") {
    uri.serial = value;
  } else if (name == "object") {
    uri.object = value;
  } else if (name == "id") {
    uri.id.assign(value.begin(), value.end());
  } else if (name == "type") {
    if (value != "private") return Refuse("type=" + value + " (only type=private is supported)");
  } else if (name == "slot-id") {
    char* end = nullptr;
    const unsigned long slot = std::strtoul(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || value.front() < '0' || value.front() > '9') {
      return Refuse("slot-id is not a decimal number");
    }
    uri.slot_id = slot;
  } else {
    return Refuse("unknown path attribute " + std::string(name));
  }
  return {};
}

Result<void> SetQueryAttribute(Pkcs11Uri& uri, std::string_view name, const std::string& value) {
  if (name == "module-path") {
    if (value.empty() || value.front() != '/') return Refuse("module-path is not an absolute path");
    uri.module_path = value;
  } else if (name == "pin-source") {
    std::string path = value;
    if (path.starts_with("file://")) {
      path.erase(0, 7);
    } else if (path.starts_with("file:")) {
      path.erase(0, 5);
    }
    if (path.empty() || path.front() != '/') {
      return Refuse("pin-source is not an absolute file path");
    }
    uri.pin_source = path;
  } else if (name == "pin-value") {
    uri.pin_value = value;
  } else if (name == "module-name") {
    return Refuse("module-name is not supported: give module-path");
  } else {
    return Refuse("unknown query attribute " + std::string(name));
  }
  return {};
}

// Splits "a=1;b=2" at separator and applies each attribute; a repeated one is refused.
Result<void> ParseAttributes(Pkcs11Uri& uri, std::string_view list, char separator, bool query,
                             std::set<std::string>& seen) {
  if (list.empty()) return {};
  size_t begin = 0;
  while (begin <= list.size()) {
    size_t end = list.find(separator, begin);
    if (end == std::string_view::npos) end = list.size();
    const std::string_view item = list.substr(begin, end - begin);
    const size_t equals = item.find('=');
    if (equals == std::string_view::npos || equals == 0) {
      return Refuse("attribute without a name=value form: \"" + std::string(item) + "\"");
    }
    const std::string name(item.substr(0, equals));
    if (!seen.insert(name).second) return Refuse("repeated attribute " + name);
    auto value = PercentDecode(name, item.substr(equals + 1));
    if (!value) return std::unexpected(value.error());
    auto set = query ? SetQueryAttribute(uri, name, *value) : SetPathAttribute(uri, name, *value);
    if (!set) return set;
    begin = end + 1;
  }
  return {};
}

}  // namespace

Result<Pkcs11Uri> ParseUri(std::string_view text) {
  if (!text.starts_with(kScheme)) {
    return Fail(Code::kInvalidArgument, "PKCS#11 URI: does not start with \"pkcs11:\"");
  }
  text.remove_prefix(kScheme.size());
  const size_t question = text.find('?');
  const std::string_view path = text.substr(0, question);
  const std::string_view query =
      question == std::string_view::npos ? std::string_view() : text.substr(question + 1);
  Pkcs11Uri uri;
  std::set<std::string> seen;
  if (auto parsed = ParseAttributes(uri, path, ';', false, seen); !parsed) {
    return std::unexpected(parsed.error());
  }
  if (auto parsed = ParseAttributes(uri, query, '&', true, seen); !parsed) {
    return std::unexpected(parsed.error());
  }
  if (uri.token.empty() && uri.manufacturer.empty() && uri.model.empty() && uri.serial.empty()) {
    return Fail(Code::kInvalidArgument,
                "PKCS#11 URI: no token attribute (token, manufacturer, model or serial)");
  }
  if (uri.object.empty() && uri.id.empty()) {
    return Fail(Code::kInvalidArgument, "PKCS#11 URI: neither object nor id names the key");
  }
  if (!uri.pin_source.empty() && uri.pin_value) {
    return Fail(Code::kInvalidArgument, "PKCS#11 URI: both pin-source and pin-value");
  }
  return uri;
}

std::string FormatUri(const Pkcs11Uri& uri) {
  std::string path;
  const auto add_path = [&path](std::string_view name, std::string_view value) {
    if (value.empty()) return;
    if (!path.empty()) path += ';';
    path += std::string(name) + "=" + PercentEncode(value, false);
  };
  add_path("token", uri.token);
  add_path("manufacturer", uri.manufacturer);
  add_path("model", uri.model);
  add_path("serial", uri.serial);
  if (uri.slot_id) add_path("slot-id", std::to_string(*uri.slot_id));
  add_path("object", uri.object);
  if (!uri.id.empty()) {
    add_path("id", std::string_view(reinterpret_cast<const char*>(uri.id.data()), uri.id.size()));
  }
  std::string query;
  if (!uri.module_path.empty()) query += "module-path=" + PercentEncode(uri.module_path, true);
  if (!uri.pin_source.empty()) {
    if (!query.empty()) query += '&';
    // "file:" + an absolute path, but "file://" before a path that itself starts with "//",
    // which the parser would otherwise read as file:// and an empty authority.
    const char* scheme = uri.pin_source.starts_with("//") ? "file://" : "file:";
    query += "pin-source=" + std::string(scheme) + PercentEncode(uri.pin_source, true);
  }
  return std::string(kScheme) + path + (query.empty() ? "" : "?" + query);
}

std::string ModulePath(const Pkcs11Uri& uri) {
  return uri.module_path.empty() ? std::string(PROVISIOND_P11_KIT_PROXY) : uri.module_path;
}

}  // namespace ca::token
