// peer.cc — names of the peer kinds for logs (see peer.h).
#include "daemon/authority/peer.h"

namespace provisiond {

const char* AuthKindName(AuthKind kind) {
  switch (kind) {
    case AuthKind::kNone: return "none";
    case AuthKind::kBootstrap: return "bootstrap";
    case AuthKind::kOperational: return "operational";
  }
  return "none";
}

}  // namespace provisiond
