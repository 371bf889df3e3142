// module.cc — loading a PKCS#11 module: dlopen, C_GetFunctionList, C_Initialize with OS locking;
// unloading in the reverse order.
#include "ca/token/module.h"

#include <dlfcn.h>

#include "ca/token/ckr.h"

namespace ca::token {

DlHandle::~DlHandle() {
  if (handle_ != nullptr) ::dlclose(handle_);
}

CK_C_INITIALIZE_ARGS OsLockingArgs() {
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  return args;
}

Result<std::unique_ptr<Module>> Module::Load(const std::string& path) {
  ::dlerror();
  auto handle = std::make_unique<DlHandle>(::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL));
  if (handle->get() == nullptr) {
    const char* why = ::dlerror();
    return Fail(Code::kInvalidArgument,
                path + ": cannot load: " + (why != nullptr ? why : "dlopen failed"));
  }
  auto get_list =
      reinterpret_cast<CK_C_GetFunctionList>(::dlsym(handle->get(), "C_GetFunctionList"));
  CK_FUNCTION_LIST* functions = nullptr;
  if (get_list == nullptr || get_list(&functions) != CKR_OK || functions == nullptr ||
      functions->C_Initialize == nullptr) {
    return Fail(Code::kInvalidArgument, path + " is not a PKCS#11 module (no C_GetFunctionList)");
  }
  std::unique_ptr<Module> module(new Module(path, std::move(handle), functions));
  CK_C_INITIALIZE_ARGS args = OsLockingArgs();
  const CK_RV rv = functions->C_Initialize(&args);
  if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    return Fail(Code::kInvalidArgument,
                path + ": C_Initialize: " + CkrName(rv) + " (already in use in this process)");
  }
  if (rv != CKR_OK) {
    return Fail(Code::kInvalidArgument,
                path + " is not a PKCS#11 module (C_Initialize: " + CkrName(rv) + ")");
  }
  module->initialized_ = true;
  return module;
}

CK_RV Module::Reinitialize() {
  if (initialized_) functions_->C_Finalize(nullptr);
  initialized_ = false;
  CK_C_INITIALIZE_ARGS args = OsLockingArgs();
  const CK_RV rv = functions_->C_Initialize(&args);
  if (rv == CKR_OK) initialized_ = true;
  return rv;
}

Module::~Module() {
  if (initialized_) functions_->C_Finalize(nullptr);
}

}  // namespace ca::token
