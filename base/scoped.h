// scoped.h — owns a C context that has an init/free pair (mbedTLS's) for exactly its lifetime:
// init in the constructor, free in the destructor. Non-copyable and non-movable: mbedTLS contexts
// hold raw pointers to each other.
#pragma once

namespace base {

template <typename T, void (*Init)(T*), void (*Free)(T*)>
class Scoped {
 public:
  Scoped() { Init(&value_); }
  ~Scoped() { Free(&value_); }
  Scoped(const Scoped&) = delete;
  Scoped& operator=(const Scoped&) = delete;
  Scoped(Scoped&&) = delete;
  Scoped& operator=(Scoped&&) = delete;

  T* get() { return &value_; }
  const T* get() const { return &value_; }
  T* operator->() { return &value_; }
  const T* operator->() const { return &value_; }

 private:
  T value_;
};

}  // namespace base
