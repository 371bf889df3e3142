// manifest_check.cc — serve --require-manifest (#19 part 2): a bootstrap certificate enrolls only
// if a factory manifest lists it, and only for the device id listed with it.
#include "daemon/authority/attempt.h"
#include "daemon/authority/enrollment.h"

namespace provisiond {

// One probe of manifest_devices' unique fingerprint index on the worker's read connection.
// Manifest rows are never removed, so a certificate found here is still listed when Reserve
// commits (no check inside Reserve's transaction is needed); an import racing this read only
// makes a device admissible a moment later. The device id compared is the one the certificate
// names (DeviceName::id, before --identity-scope qualifies it): manifests list what the factory
// wrote into the certificate.
EnrollResult Enroller::CheckManifest(const EnrollRequest& req, const DeviceName& name) {
  if (!shared_.config().policy.require_manifest) return Refuse(EnrollCode::kIssued, "");
  const std::string& fingerprint = req.peer.cert->fingerprint;
  auto listed = reader_.FindInManifest(fingerprint);
  if (!listed) return FromStoreError(listed.error());
  if (!*listed) {
    return Refuse(EnrollCode::kNotInManifest, "bootstrap_sha256 " + fingerprint + " in no manifest");
  }
  if ((*listed)->device_id != name.id) {
    return Refuse(EnrollCode::kManifestMismatch,
                  "certificate names " + name.id + ", batch " + (*listed)->batch + " lists " +
                      (*listed)->device_id);
  }
  return Refuse(EnrollCode::kIssued, "");
}

}  // namespace provisiond
