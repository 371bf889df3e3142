// record_screen.h — the length of every TLS record a client sends, checked in our bio before
// mbedTLS reads it: RFC 8446 §5.1/§5.2 and RFC 5246 §6.2 want record_overflow for a record over
// the limit, and mbedTLS would authenticate such a record first and answer bad_record_mac.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace provisiond::tls {

// Follows record boundaries in the byte stream handed to mbedTLS (5-byte header, then the body).
// Not thread-safe; one per Session.
class RecordScreen {
 public:
  // TLSPlaintext (before any key), TLS 1.3 TLSCiphertext, TLS 1.2 TLSCiphertext. RFC 8446 allows
  // a TLS 1.3 record up to 2^14 + 256 bytes for any AEAD, but every suite we offer
  // (server_tls.cc: AES-GCM, ChaCha20-Poly1305) adds exactly a 16-byte tag, so a longer record
  // carries a TLSInnerPlaintext (content, type, padding) over the 2^14 + 1 bytes §5.4 allows:
  // record_overflow, padding included, which mbedTLS (it strips the padding and checks only the
  // content) would not say. TLS 1.2: 2^14 bytes of content plus AES-GCM's explicit nonce and tag.
  static constexpr size_t kMaxPlaintext = 16384;
  static constexpr size_t kMaxTls13Ciphertext = 16384 + 1 + 16;
  static constexpr size_t kMaxTls12Ciphertext = 16384 + 8 + 16;

  // Feeds the next bytes; `limit` is the largest record length allowed for a record whose header
  // completes in them (the caller knows whether keys are in use). Returns false once a header
  // announces a longer record. An SSLv2-format first record (high bit set) turns the screen off:
  // mbedTLS refuses it on its own (decode_error, alerts.cc).
  bool Feed(std::span<const unsigned char> bytes, size_t limit);
  size_t last_length() const { return last_length_; }
  // A whole record (header and body) has passed, or the screen is off: the peer has sent more
  // than a fragment (worker_admit.cc treats a handshake as started only then).
  bool record_complete() const { return complete_ || off_; }
  // Part of a record (some of its header or body) has passed and the rest has not.
  bool mid_record() const { return !off_ && (header_got_ > 0 || body_left_ > 0); }

 private:
  bool off_ = false;
  bool first_ = true;
  unsigned char header_[5] = {};
  size_t header_got_ = 0;
  size_t body_left_ = 0;
  size_t last_length_ = 0;
  bool complete_ = false;
};

}  // namespace provisiond::tls
