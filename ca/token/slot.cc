// slot.cc — Token::Impl's shared steps: finding the URI's token among the slots, opening a
// session logged in as the user (one login at a time), finding the key's objects, the counters.
#include <string_view>

#include "ca/token/ckr.h"
#include "ca/token/impl.h"

namespace ca::token {
namespace {

// A CK_TOKEN_INFO text field: fixed width, blank padded.
std::string_view Trimmed(const CK_UTF8CHAR* field, size_t width) {
  std::string_view text(reinterpret_cast<const char*>(field), width);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\0')) text.remove_suffix(1);
  return text;
}

bool Matches(std::string_view wanted, const CK_UTF8CHAR* field, size_t width) {
  return wanted.empty() || wanted == Trimmed(field, width);
}

bool IsUserState(CK_STATE state) {
  return state == CKS_RO_USER_FUNCTIONS || state == CKS_RW_USER_FUNCTIONS;
}

}  // namespace

std::string Token::Impl::Failed(const char* call, CK_RV rv) {
  const std::string name = CkrName(rv);
  {
    std::lock_guard lock(stats_mutex_);
    ++stats_.errors[name];
  }
  return module_->path() + ": " + call + ": " + name;
}

Error Token::Impl::FailedError(const char* call, CK_RV rv) {
  const Code code = IsPinFailure(rv) ? Code::kInvalidArgument : Code::kUnavailable;
  return Error{code, Failed(call, rv)};
}

std::string Token::Impl::Describe(const CK_TOKEN_INFO& info) const {
  return "\"" + std::string(Trimmed(info.label, sizeof info.label)) + "\"";
}

Result<CK_SLOT_ID> Token::Impl::FindSlot() {
  CK_ULONG count = 0;
  CK_RV rv = CKR_OK;
  std::vector<CK_SLOT_ID> slots;
  for (int attempt = 0; attempt < 4; ++attempt) {  // the list may grow between the two calls
    rv = fl()->C_GetSlotList(CK_TRUE, nullptr, &count);
    if (rv != CKR_OK) break;
    slots.resize(count);
    rv = fl()->C_GetSlotList(CK_TRUE, slots.data(), &count);
    if (rv != CKR_BUFFER_TOO_SMALL) break;
  }
  if (rv != CKR_OK) return std::unexpected(FailedError("C_GetSlotList", rv));
  slots.resize(count);
  std::vector<CK_SLOT_ID> found;
  std::string names;
  for (const CK_SLOT_ID slot : slots) {
    if (uri_.slot_id && *uri_.slot_id != slot) continue;
    CK_TOKEN_INFO info{};
    rv = fl()->C_GetTokenInfo(slot, &info);
    if (rv != CKR_OK) continue;  // a slot emptied meanwhile, or failing: not the one we name
    if (Matches(uri_.token, info.label, sizeof info.label) &&
        Matches(uri_.manufacturer, info.manufacturerID, sizeof info.manufacturerID) &&
        Matches(uri_.model, info.model, sizeof info.model) &&
        Matches(uri_.serial, info.serialNumber, sizeof info.serialNumber)) {
      found.push_back(slot);
      names += (names.empty() ? "" : ", ") + Describe(info);
    }
  }
  if (found.size() > 1) {
    return Fail(Code::kInvalidArgument,
                module_->path() + ": several tokens match the URI: " + names);
  }
  if (found.empty()) {
    return Fail(Code::kInvalidArgument, module_->path() + ": no token matches " + FormatUri(uri_));
  }
  return found.front();
}

Result<void> Token::Impl::LoginIfNeeded(const Session& session) {
  std::lock_guard lock(login_mutex_);
  // Checked under the lock: another thread may have logged in while this one waited.
  CK_SESSION_INFO info{};
  CK_RV rv = fl()->C_GetSessionInfo(session.get(), &info);
  if (rv != CKR_OK) return std::unexpected(FailedError("C_GetSessionInfo", rv));
  if (IsUserState(info.state)) return {};
  if (!pin_refused_.empty()) return Fail(Code::kInvalidArgument, pin_refused_);
  rv = fl()->C_Login(session.get(), CKU_USER, const_cast<CK_UTF8CHAR*>(pin_.data()), pin_.size());
  if (rv == CKR_USER_ALREADY_LOGGED_IN) return {};
  if (rv != CKR_OK) {
    Error error = FailedError("C_Login", rv);
    if (IsPinFailure(rv)) {
      pin_refused_ = error.detail + " (no login is tried again with this PIN: fix the PIN file "
                                    "and restart)";
    }
    return std::unexpected(error);
  }
  std::lock_guard stats_lock(stats_mutex_);
  ++stats_.logins;
  return {};
}

Result<Session> Token::Impl::OpenUserSession(bool read_write) {
  auto slot = FindSlot();
  if (!slot) return std::unexpected(slot.error());
  CK_SESSION_HANDLE handle = 0;
  const CK_FLAGS flags = CKF_SERIAL_SESSION | (read_write ? CKF_RW_SESSION : 0);
  const CK_RV rv = fl()->C_OpenSession(*slot, flags, nullptr, nullptr, &handle);
  if (rv != CKR_OK) return std::unexpected(FailedError("C_OpenSession", rv));
  Session session(fl(), handle, &generation_);
  CountSession();
  if (auto login = LoginIfNeeded(session); !login) return std::unexpected(login.error());
  return session;
}

Result<std::vector<CK_OBJECT_HANDLE>> Token::Impl::FindObjects(const Session& session,
                                                               CK_OBJECT_CLASS cls,
                                                               const KeyName& key) {
  std::vector<CK_ATTRIBUTE> query = {{CKA_CLASS, &cls, sizeof cls}};
  if (!key.label.empty()) {
    query.push_back({CKA_LABEL, const_cast<char*>(key.label.data()), key.label.size()});
  }
  if (!key.id.empty()) {
    query.push_back({CKA_ID, const_cast<unsigned char*>(key.id.data()), key.id.size()});
  }
  CK_RV rv = fl()->C_FindObjectsInit(session.get(), query.data(), query.size());
  if (rv != CKR_OK) return std::unexpected(FailedError("C_FindObjectsInit", rv));
  CK_OBJECT_HANDLE found[2] = {};
  CK_ULONG count = 0;
  rv = fl()->C_FindObjects(session.get(), found, 2, &count);
  const CK_RV final_rv = fl()->C_FindObjectsFinal(session.get());
  if (rv != CKR_OK) return std::unexpected(FailedError("C_FindObjects", rv));
  if (final_rv != CKR_OK) return std::unexpected(FailedError("C_FindObjectsFinal", final_rv));
  return std::vector<CK_OBJECT_HANDLE>(found, found + count);
}

void Token::Impl::Reinitialize(uint64_t seen_generation) {
  std::unique_lock lock(calls_);
  if (generation_.load() != seen_generation) return;  // another thread just did it
  const auto now = std::chrono::steady_clock::now();
  if (generation_.load() > 0 && now - last_reinitialize_ < kReinitializeInterval) return;
  last_reinitialize_ = now;
  ++generation_;        // every session opened before is stale from here on
  keeper_ = Session();  // its handle dies with the C_Finalize below
  const CK_RV rv = module_->Reinitialize();
  if (rv != CKR_OK) {
    (void)Failed("C_Initialize", rv);
    return;
  }
  auto session = OpenUserSession(false);
  if (session) keeper_ = std::move(*session);
}

void Token::Impl::CountSession() {
  std::lock_guard lock(stats_mutex_);
  ++stats_.sessions_opened;
}

void Token::Impl::CountSignature() {
  std::lock_guard lock(stats_mutex_);
  ++stats_.signatures;
}

Token::Stats Token::Impl::stats() const {
  std::lock_guard lock(stats_mutex_);
  return stats_;
}

}  // namespace ca::token
