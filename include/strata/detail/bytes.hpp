// Loads of fixed-width integers from unaligned bytes, in network (big-endian) or little-endian order.
// memcpy + byte swap compiles to one load and one `bswap`/`movbe`; during constant evaluation the
// same functions fall back to shifts, so they can be used in constexpr tests as well.
// They never check bounds: callers check once per header, then load each field.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace strata::detail {

/// Reverses the byte order of an unsigned integer (std::byteswap is C++23).
template <class T>
requires std::is_unsigned_v<T>
constexpr T byteswap(T v) noexcept {
  if constexpr (sizeof(T) == 1) {
    return v;
  } else if constexpr (sizeof(T) == 2) {
    return static_cast<T>(__builtin_bswap16(v));
  } else if constexpr (sizeof(T) == 4) {
    return static_cast<T>(__builtin_bswap32(v));
  } else {
    static_assert(sizeof(T) == 8);
    return static_cast<T>(__builtin_bswap64(v));
  }
}

/// A byte type the loaders accept: std::byte, unsigned char (std::uint8_t) or char.
template <class B>
concept byte_like = std::is_same_v<std::remove_cv_t<B>, std::byte> || std::is_same_v < std::remove_cv_t<B>,
unsigned char > || std::is_same_v<std::remove_cv_t<B>, char>;

/// Loads sizeof(T) bytes at `p` as a big-endian (network order) value.
template <class T, byte_like B>
constexpr T load_be(const B* p) noexcept {
  if (std::is_constant_evaluated()) {
    T v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i)
      v = static_cast<T>((sizeof(T) > 1 ? v << 8 : 0) | static_cast<T>(static_cast<unsigned char>(p[i])));
    return v;
  }
  T v;
  std::memcpy(&v, p, sizeof(T));
  if constexpr (std::endian::native == std::endian::little) return byteswap(v);
  return v;
}

/// Loads sizeof(T) bytes at `p` as a little-endian value.
template <class T, byte_like B>
constexpr T load_le(const B* p) noexcept {
  if (std::is_constant_evaluated()) {
    T v = 0;
    for (std::size_t i = sizeof(T); i-- > 0;)
      v = static_cast<T>((sizeof(T) > 1 ? v << 8 : 0) | static_cast<T>(static_cast<unsigned char>(p[i])));
    return v;
  }
  T v;
  std::memcpy(&v, p, sizeof(T));
  if constexpr (std::endian::native == std::endian::big) return byteswap(v);
  return v;
}

template <byte_like B>
constexpr std::uint8_t load_u8(const B* p) noexcept {
  return static_cast<std::uint8_t>(p[0]);
}
template <byte_like B>
constexpr std::uint16_t load_be16(const B* p) noexcept {
  return load_be<std::uint16_t>(p);
}
template <byte_like B>
constexpr std::uint32_t load_be32(const B* p) noexcept {
  return load_be<std::uint32_t>(p);
}
template <byte_like B>
constexpr std::uint64_t load_be64(const B* p) noexcept {
  return load_be<std::uint64_t>(p);
}
template <byte_like B>
constexpr std::uint16_t load_le16(const B* p) noexcept {
  return load_le<std::uint16_t>(p);
}
template <byte_like B>
constexpr std::uint32_t load_le32(const B* p) noexcept {
  return load_le<std::uint32_t>(p);
}

/// Stores `v` at `p` in big-endian order (used by tests and writers that build headers).
template <class T, byte_like B>
requires std::is_unsigned_v<T>
constexpr void store_be(B* p, T v) noexcept {
  for (std::size_t i = 0; i < sizeof(T); ++i)
    p[i] = static_cast<B>(static_cast<unsigned char>(v >> (8 * (sizeof(T) - 1 - i))));
}

}  // namespace strata::detail
