// SPDX-License-Identifier: BSD-3-Clause
// A test buffer of n elements at a chosen misalignment from a 64-byte
// boundary, surrounded by guard elements holding a sentinel bit pattern, so a
// test can prove that a kernel neither reads nor writes outside [0, n).
#ifndef ADAGRAD_TESTS_GUARDED_BUFFER_H_
#define ADAGRAD_TESTS_GUARDED_BUFFER_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

namespace adagrad_test {

// The unsigned integer of T's size (16-bit types are their own bits).
template <class T>
using bits_of = std::conditional_t<
    sizeof(T) == 2, std::uint16_t,
    std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>;

template <class T>
bits_of<T> to_bits(T value) {
  bits_of<T> bits;
  std::memcpy(&bits, &value, sizeof(T));
  return bits;
}

template <class T>
T from_bits(bits_of<T> bits) {
  T value;
  std::memcpy(&value, &bits, sizeof(T));
  return value;
}

// Bitwise equality, except that any NaN equals any NaN: which NaN payload
// survives an operation depends on operand order, which the compiler may
// legally swap for commutative operations.
template <class T>
bool same_value(T a, T b) {
  if (a != a && b != b) return true;
  return to_bits(a) == to_bits(b);
}

template <class T>
std::string hex(T value) {
  char text[64];
  std::snprintf(text, sizeof text, sizeof(T) == 4 ? "0x%08llx (%.9g)" : "0x%016llx (%.17g)",
                static_cast<unsigned long long>(to_bits(value)), static_cast<double>(value));
  return text;
}

template <class T>
class GuardedBuffer {
 public:
  static constexpr std::size_t kGuard = 64 / sizeof(T);  // a cache line each side
  // A signalling-NaN-like pattern no kernel produces (16 bits: a pattern).
  static constexpr bits_of<T> kSentinel =
      sizeof(T) == 2   ? bits_of<T>(0xa5a5u)
      : sizeof(T) == 4 ? bits_of<T>(0x7fa5a5a5u)
                       : bits_of<T>(0x7ff5a5a5a5a5a5a5ull);

  GuardedBuffer(std::size_t n, std::size_t misalign) : n_(n) {
    storage_.resize(n + misalign + 2 * kGuard + 64 / sizeof(T));
    for (auto& element : storage_) element = kSentinel;
    const auto base = reinterpret_cast<std::uintptr_t>(storage_.data() + kGuard);
    const std::size_t to_boundary = ((64 - base % 64) % 64) / sizeof(T);
    offset_ = kGuard + to_boundary + misalign;
  }

  T* data() { return reinterpret_cast<T*>(storage_.data() + offset_); }
  const T* data() const { return reinterpret_cast<const T*>(storage_.data() + offset_); }
  T& operator[](std::size_t i) { return data()[i]; }
  T operator[](std::size_t i) const { return data()[i]; }
  std::size_t size() const { return n_; }

  // Index (relative to data()) of the first guard element that changed, or
  // nothing when all are intact.
  bool guards_intact(std::ptrdiff_t* changed_at) const {
    for (std::size_t i = 0; i < storage_.size(); ++i) {
      if (i >= offset_ && i < offset_ + n_) continue;
      if (storage_[i] != kSentinel) {
        *changed_at = static_cast<std::ptrdiff_t>(i) - static_cast<std::ptrdiff_t>(offset_);
        return false;
      }
    }
    return true;
  }

 private:
  std::size_t n_;
  std::size_t offset_;
  std::vector<bits_of<T>> storage_;
};

}  // namespace adagrad_test

#endif  // ADAGRAD_TESTS_GUARDED_BUFFER_H_
