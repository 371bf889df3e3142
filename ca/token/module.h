// module.h — a PKCS#11 module loaded into the process: the dlopen handle, its function list and the
// C_Initialize state, each released exactly once (C_Finalize, then dlclose). Private to ca/token/.
#pragma once

#include <p11-kit/pkcs11.h>

#include <memory>
#include <string>

#include "ca/error.h"

namespace ca::token {

// Owns a dlopen handle; dlclose in the destructor.
class DlHandle {
 public:
  explicit DlHandle(void* handle) : handle_(handle) {}
  ~DlHandle();
  DlHandle(const DlHandle&) = delete;
  DlHandle& operator=(const DlHandle&) = delete;
  void* get() const { return handle_; }

 private:
  void* handle_;
};

class Module {
 public:
  // dlopen(path), C_GetFunctionList, C_Initialize with CKF_OS_LOCKING_OK (CKR_CRYPTOKI_ALREADY_
  // INITIALIZED is refused: another user of the same module in this process would share our
  // login and sessions). kInvalidArgument "PATH: cannot load: ..." when the file cannot be
  // loaded, "PATH is not a PKCS#11 module" when it has no C_GetFunctionList or C_Initialize
  // fails.
  static Result<std::unique_ptr<Module>> Load(const std::string& path);
  ~Module();  // C_Finalize, then dlclose
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  CK_FUNCTION_LIST* fl() const { return functions_; }
  const std::string& path() const { return path_; }

  // C_Finalize then C_Initialize again: every session and the login are gone afterwards. The
  // caller makes sure no other thread is inside the module.
  CK_RV Reinitialize();

 private:
  Module(std::string path, std::unique_ptr<DlHandle> handle, CK_FUNCTION_LIST* functions)
      : path_(std::move(path)), handle_(std::move(handle)), functions_(functions) {}
  std::string path_;
  std::unique_ptr<DlHandle> handle_;  // declared before: destroyed after C_Finalize
  CK_FUNCTION_LIST* functions_;
  bool initialized_ = false;
};

// C_Initialize's arguments: the module may create threads and must use the OS's locks.
CK_C_INITIALIZE_ARGS OsLockingArgs();

}  // namespace ca::token
