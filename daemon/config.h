// config.h — what `provisiond serve` runs with, after CLI parsing and validation.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "ca/cert.h"
#include "ca/issuer.h"
#include "daemon/authority/policy.h"
#include "daemon/cidr.h"

namespace provisiond {

// Highest --workers; also the cap when 0 asks for one per CPU.
inline constexpr int kMaxWorkers = 256;

enum class ClientAuth { kRequired, kOptional };

struct Limits {
  int max_connections = 10000;
  // Connections one source address (an IPv6 /64) may hold at once, all workers together;
  // 0 = auto (daemon/admission.h PerSourceLimit). Peers in --proxy-protocol-from are exempt.
  int max_connections_per_source = 0;
  std::chrono::milliseconds handshake_timeout{10000};
  std::chrono::milliseconds request_timeout{10000};  // first byte to complete request
  std::chrono::milliseconds idle_timeout{5000};      // keep-alive wait between requests
  int max_requests_per_connection = 8;
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 16 * 1024;  // base64 of a CSR is < 1 KiB; this leaves room for chains
  // Issuance and event writes queued for the database writer; beyond this, enrollments get 503
  // with Retry-After instead of waiting longer and longer.
  size_t max_pending_writes = 4096;
  // How long a database commit may wait, while enrollments are being signed, for their
  // certificates to share its fsync (db::Writer's commit_delay; 0 = never wait).
  int commit_delay_ms = 10;
};

// Where the store is, as given on the command line or in the config file (resolved and checked
// by StoreLocation::Resolve, daemon/store_open.h).
struct StoreOptions {
  std::string url;            // --store URL; "" = sqlite:STATE_DIR/provisiond.db
  std::string password_file;  // --store-password-file (PostgreSQL only)
  bool operator==(const StoreOptions&) const = default;
};

// How a command names the CA key beyond what the state dir records (daemon/ca_key_source.h).
struct CaKeyOptions {
  std::string uri;               // --ca-key-uri: a PKCS#11 URI overriding ca.key.uri
  bool allow_pin_value = false;  // --allow-pin-value: accept a URI that carries pin-value
  bool operator==(const CaKeyOptions&) const = default;
};

// The authority's part (identity, identity_scope, policy) is the AuthorityConfig base
// (daemon/authority/policy.h): the room reads only that.
struct ServeConfig : AuthorityConfig {
  std::string state_dir;
  StoreOptions store;
  std::string listen = "127.0.0.1:8443";
  std::vector<std::string> trust_paths;  // files or directories of PEM/DER CA certificates
  int tls_min_minor = 2;                 // 2 = TLS 1.2, 3 = TLS 1.3 (max is always 1.3)
  ClientAuth client_auth = ClientAuth::kRequired;
  int workers = 0;  // 0 = one per CPU (at most kMaxWorkers); else 1..kMaxWorkers
  Limits limits;
  ca::Profile default_profile;
  std::map<std::string, ca::Profile> labeled_profiles;  // /.well-known/est/<label>/...
  std::map<std::string, ProfileRule> profile_rules;     // one per labelled profile
  int retry_after_seconds = 30;
  std::string metrics_listen;  // ADDR:PORT of the plain-HTTP /metrics listener; "" = off
  std::string crl_listen;      // ADDR:PORT of the plain-HTTP /crl listener; "" = off
  std::chrono::seconds crl_period{3600};  // CRL timer; nextUpdate = 2 x period (crl_service.h)
  std::chrono::milliseconds drain_timeout{10000};  // SIGTERM: how long in-flight requests get
  // Load balancers whose connections must start with a PROXY protocol v2 header
  // (--proxy-protocol-from; daemon/proxy_header.h). Empty: no peer may send one.
  std::vector<Cidr> proxy_protocol_from;
  CaKeyOptions ca_key;  // ca-key-uri, allow-pin-value (restart only)
  // --serverkeygen: answer /.well-known/est/[<label>/]serverkeygen (RFC 7030 §4.4, TLS 1.3
  // only). Off: the path is an unsupported EST operation (404), as before.
  bool serverkeygen = false;
};

// Paths inside a state directory.
struct StatePaths {
  explicit StatePaths(const std::string& dir)
      : ca_cert(dir + "/ca.crt"),
        ca_key(dir + "/ca.key"),
        ca_key_uri(dir + "/ca.key.uri"),
        server_cert(dir + "/server.crt"),
        server_key(dir + "/server.key"),
        database(dir + "/provisiond.db") {}
  std::string ca_cert, ca_key, ca_key_uri, server_cert, server_key, database;
};

}  // namespace provisiond
