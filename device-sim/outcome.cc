// outcome.cc — outcome texts and the expectation table of the scenario classes.
#include "device-sim/outcome.h"

#include <mbedtls/ssl.h>

namespace devsim {

std::string Describe(const Outcome& outcome) {
  switch (outcome.kind) {
    case OutcomeKind::kIssued:
      return "certificate issued";
    case OutcomeKind::kHttp:
      return "http " + std::to_string(outcome.code) + ": " + outcome.detail;
    case OutcomeKind::kAlert:
      return "tls: " + outcome.step + ": fatal alert " + std::to_string(outcome.code) + " " +
             AlertName(outcome.code);
    case OutcomeKind::kError:
      break;
  }
  return outcome.detail;
}

Expectation Expected(Scenario scenario, TlsVersion version) {
  switch (scenario) {
    case Scenario::kGood:
      return {OutcomeKind::kIssued, 200};
    case Scenario::kRogueCa:
      return {OutcomeKind::kAlert, MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA};
    case Scenario::kNoCert:
      return {OutcomeKind::kAlert, version == TlsVersion::k13
                                       ? MBEDTLS_SSL_ALERT_MSG_CERT_REQUIRED
                                       : MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE};
    case Scenario::kExpired:
      return {OutcomeKind::kAlert, MBEDTLS_SSL_ALERT_MSG_CERT_EXPIRED};
    case Scenario::kBadCsr:
      return {OutcomeKind::kHttp, 400};
    case Scenario::kReplay:
      return {OutcomeKind::kHttp, 403};
  }
  return {OutcomeKind::kIssued, 200};
}

bool Meets(const Outcome& outcome, const Expectation& expected) {
  if (outcome.kind != expected.kind) return false;
  return expected.kind == OutcomeKind::kIssued || outcome.code == expected.code;
}

std::string Describe(const Expectation& expected) {
  switch (expected.kind) {
    case OutcomeKind::kIssued:
      return "certificate";
    case OutcomeKind::kHttp:
      return "http " + std::to_string(expected.code);
    case OutcomeKind::kAlert:
      return "tls alert " + std::to_string(expected.code) + " " + AlertName(expected.code);
    case OutcomeKind::kError:
      break;
  }
  return "error";
}

}  // namespace devsim
