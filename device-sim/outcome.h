// outcome.h — what one enrollment ended with, what each scenario class expects, and the one-line
// texts the summary groups unexpected outcomes by. Pure.
#pragma once

#include <string>

#include "device-sim/mix.h"
#include "device-sim/tls_names.h"

namespace devsim {

enum class OutcomeKind {
  kIssued,  // HTTP 200 and a certificate that chains to --ca-bundle and holds our key
  kHttp,    // any other HTTP answer (status in code)
  kAlert,   // a fatal TLS alert from the server (alert number in code), at any step
  kError,   // anything else: connect failure, timeout, local TLS error, bad response, file I/O
};

struct Outcome {
  OutcomeKind kind = OutcomeKind::kError;
  int code = 0;        // HTTP status (kHttp) or TLS alert (kAlert)
  std::string step;    // kHttp/kAlert: "connect", "handshake", "cacerts", "enroll", "reenroll"
  std::string detail;  // kHttp: the first line of the body; kError: the reason

  static Outcome Issued() { return {OutcomeKind::kIssued, 200, "", ""}; }
  static Outcome Http(int status, std::string step, std::string first_line) {
    return {OutcomeKind::kHttp, status, std::move(step), std::move(first_line)};
  }
  static Outcome Alert(int alert, std::string step) {
    return {OutcomeKind::kAlert, alert, std::move(step), ""};
  }
  static Outcome Error(std::string reason) {
    return {OutcomeKind::kError, 0, "", std::move(reason)};
  }
};

// "certificate issued", "http 403: <first line>", "tls: cacerts: fatal alert 48 unknown_ca", or the
// error reason itself. Alert texts keep the "tls: <step>: ... fatal alert <n>" shape scripts grep.
std::string Describe(const Outcome& outcome);

struct Expectation {
  OutcomeKind kind;
  int code;  // status or alert; ignored for kIssued
};

// good: issued; rogue-ca: alert 48 unknown_ca; no-cert: alert 116 certificate_required (TLS 1.3)
// or 40 handshake_failure (TLS 1.2); expired: alert 45 certificate_expired; bad-csr: http 400;
// replay: http 403 (one operational certificate per bootstrap certificate).
Expectation Expected(Scenario scenario, TlsVersion version);

bool Meets(const Outcome& outcome, const Expectation& expected);

// "certificate", "http 400", "tls alert 48 unknown_ca".
std::string Describe(const Expectation& expected);

}  // namespace devsim
