// Run-time sets (like nft sets): the immutable contents of one named set of addresses/prefixes (IPv4
// and IPv6) or ports. A set is built once, off the per-packet path, and never changes afterwards:
// replacing a set publishes a new one (strata/sets.hpp), so a reader never sees a half-built set.
//
// The lookup structure fits the size and the entries (chosen at build time, per family):
//   * at most `small_limit` disjoint intervals: a sorted array, scanned linearly (fits a cache line or
//     two, no branch mispredicted on a binary search);
//   * host addresses only (no prefix wider than one address), more than that: an open-addressing hash
//     table (linear probing, load factor at most 1/2), one probe on average;
//   * prefixes: the entries merged into sorted disjoint intervals, binary search for the last interval
//     starting at or below the value (O(log n), the same answer as a longest-prefix match for a
//     membership question, and smaller than a trie);
//   * ports: a 65536-bit bitmap (8 KiB) beyond `small_limit` intervals: one load.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <span>
#include <vector>

#include <strata/address.hpp>
#include <strata/field.hpp>

namespace strata {

/// What a run-time set holds.
enum class set_kind : std::uint8_t { address = 0, port = 1 };
constexpr std::string_view name(set_kind k) { return k == set_kind::address ? "address" : "port"; }

/// An inclusive port range; a single port converts to one.
struct port_range {
  std::uint16_t low = 0, high = 0;
  constexpr port_range() = default;
  constexpr port_range(std::uint16_t p) : low(p), high(p) {}  // NOLINT: a port is a range of one
  constexpr port_range(std::uint16_t l, std::uint16_t h) : low(l), high(h) {}
};

/// The lookup structure chosen for one family of a set (see the top of this file).
enum class set_lookup : std::uint8_t { empty, small_array, hash, intervals, bitmap };
constexpr std::string_view name(set_lookup l) {
  switch (l) {
    case set_lookup::empty:
      return "empty";
    case set_lookup::small_array:
      return "small array";
    case set_lookup::hash:
      return "hash";
    case set_lookup::intervals:
      return "sorted intervals";
    case set_lookup::bitmap:
      return "bitmap";
  }
  return "?";
}

namespace detail {

/// One family's (or the ports') membership structure over values of type T (uint32_t for IPv4 and
/// ports, address for IPv6).
template <class T>
class value_set {
 public:
  static constexpr std::size_t small_limit = 16;

  /// From inclusive intervals in any order, overlapping or not; `hosts_only` when every interval is
  /// one value (then a large set is hashed).
  void build(std::vector<std::pair<T, T>> iv) {
    std::sort(iv.begin(), iv.end());
    std::vector<std::pair<T, T>> merged;
    bool hosts_only = true;
    for (const auto& [lo, hi] : iv) {
      if (!(lo == hi)) hosts_only = false;
      if (!merged.empty() && !(merged.back().second < lo)) {
        if (merged.back().second < hi) merged.back().second = hi;
      } else if (!merged.empty() && next(merged.back().second) == lo &&
                 !(merged.back().second == max_value())) {
        merged.back().second = hi;  // adjacent: one interval
      } else {
        merged.emplace_back(lo, hi);
      }
    }
    count_ = iv.size();
    lo_.clear();
    hi_.clear();
    table_.clear();
    if (merged.empty()) {
      kind_ = set_lookup::empty;
      return;
    }
    if (merged.size() <= small_limit) {
      kind_ = set_lookup::small_array;
    } else if (hosts_only) {
      kind_ = set_lookup::hash;
      build_hash(iv);
      return;
    } else {
      kind_ = set_lookup::intervals;
    }
    for (const auto& [lo, hi] : merged) {
      lo_.push_back(lo);
      hi_.push_back(hi);
    }
  }

  bool contains(T v) const noexcept {
    switch (kind_) {
      case set_lookup::small_array: {
        // Every entry, without an early exit: no branch to mispredict, and the compiler vectorizes it.
        unsigned in = 0;
        for (std::size_t i = 0; i < lo_.size(); ++i)
          in |= static_cast<unsigned>(!(v < lo_[i])) & static_cast<unsigned>(!(hi_[i] < v));
        return in != 0;
      }
      case set_lookup::hash:
        return hash_contains(v);
      case set_lookup::intervals: {
        // The last interval that starts at or below v: a binary search without a data-dependent branch
        // (a conditional move per level), which a mispredicted branch per level would cost several times.
        const T* base = lo_.data();
        for (std::size_t n = lo_.size(); n > 1;) {
          const std::size_t half = n / 2;
          base = v < base[half] ? base : base + half;
          n -= half;
        }
        return !(v < *base) && !(hi_[static_cast<std::size_t>(base - lo_.data())] < v);
      }
      default:
        return false;
    }
  }
  set_lookup lookup() const noexcept { return kind_; }
  /// Entries as given (before merging).
  std::size_t entries() const noexcept { return count_; }

 private:
  static constexpr T max_value() {
    if constexpr (std::is_same_v<T, address>)
      return address{~std::uint64_t{0}, ~std::uint64_t{0}};
    else
      return ~T{0};
  }
  static constexpr T next(T v) {
    if constexpr (std::is_same_v<T, address>)
      return v.lo == ~std::uint64_t{0} ? address{v.hi + 1, 0} : address{v.hi, v.lo + 1};
    else
      return static_cast<T>(v + 1);
  }
  static std::uint64_t hash(T v) noexcept {
    std::uint64_t x;
    if constexpr (std::is_same_v<T, address>)
      x = v.lo ^ (v.hi * 0x9e3779b97f4a7c15ull);
    else
      x = v;
    x ^= x >> 32;
    return x * 0x9e3779b97f4a7c15ull;
  }
  // Empty slots hold the largest value; whether the set holds that value is kept aside.
  void build_hash(const std::vector<std::pair<T, T>>& iv) {
    std::size_t n = 4;
    while (n < iv.size() * 2) n <<= 1;
    shift_ = 64 - static_cast<unsigned>(std::countr_zero(n));
    table_.assign(n, max_value());
    has_max_ = false;
    for (const auto& e : iv) {
      const T v = e.first;
      if (v == max_value()) {
        has_max_ = true;
        continue;
      }
      std::size_t i = static_cast<std::size_t>(hash(v) >> shift_);
      while (!(table_[i] == max_value()) && !(table_[i] == v)) i = (i + 1) & (n - 1);
      table_[i] = v;
    }
  }
  bool hash_contains(T v) const noexcept {
    if (v == max_value()) return has_max_;
    const std::size_t mask = table_.size() - 1;
    for (std::size_t i = static_cast<std::size_t>(hash(v) >> shift_);; i = (i + 1) & mask) {
      if (table_[i] == v) return true;
      if (table_[i] == max_value()) return false;
    }
  }

  set_lookup kind_ = set_lookup::empty;
  std::size_t count_ = 0;
  std::vector<T> lo_, hi_;
  std::vector<T> table_;
  unsigned shift_ = 64;
  bool has_max_ = false;
};

}  // namespace detail

/// The immutable contents of one run-time set. Built by `addresses()` or `ports()`.
class set_data {
 public:
  /// An address set: IPv4 and IPv6 prefixes (a host address is a full-length prefix), from any range of
  /// `prefix`. (Templates, here and below: a translation unit that builds no set compiles none of it.)
  template <class Entries = std::span<const prefix>>
  static set_data addresses(const Entries& entries) {
    set_data d;
    d.kind_ = set_kind::address;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> v4;
    std::vector<std::pair<address, address>> v6;
    for (const prefix& p : entries) {
      const address m = p.mask();
      const address lo = p.addr & m;
      if (p.fam == family::v4) {
        const auto l = lo.v4();
        v4.emplace_back(l, l | ~static_cast<std::uint32_t>(m.lo));
      } else if (p.fam == family::v6) {
        v6.emplace_back(lo, address{lo.hi | ~m.hi, lo.lo | ~m.lo});
      }
    }
    d.v4_.build(std::move(v4));
    d.v6_.build(std::move(v6));
    return d;
  }
  /// A port set: ports and inclusive ranges, from any range of `port_range`.
  template <class Entries = std::span<const port_range>>
  static set_data ports(const Entries& entries) {
    set_data d;
    d.kind_ = set_kind::port;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> iv;
    for (const port_range& r : entries)
      if (r.low <= r.high) iv.emplace_back(r.low, r.high);
    d.ports_.build(iv);
    if (d.ports_.lookup() != set_lookup::small_array && !iv.empty()) {
      d.bitmap_.assign(65536 / 64, 0);
      for (const auto& [lo, hi] : iv)
        for (std::uint32_t p = lo; p <= hi; ++p) d.bitmap_[p >> 6] |= std::uint64_t{1} << (p & 63);
    }
    return d;
  }

  set_kind kind() const noexcept { return kind_; }
  /// Membership of an address of family `f` (an IPv4 address in the low 32 bits, as `address` holds it).
  bool contains(family f, address a) const noexcept {
    if (f == family::v4) return v4_.contains(a.v4());
    if (f == family::v6) return v6_.contains(a);
    return false;
  }
  bool contains_port(std::uint64_t p) const noexcept {
    if (p > 0xffff) return false;
    if (!bitmap_.empty()) return (bitmap_[p >> 6] >> (p & 63)) & 1;
    return ports_.contains(static_cast<std::uint32_t>(p));
  }
  /// Entries as loaded (IPv4 + IPv6, or port lines).
  std::size_t size() const noexcept { return v4_.entries() + v6_.entries() + ports_.entries(); }
  set_lookup lookup(family f) const noexcept { return f == family::v6 ? v6_.lookup() : v4_.lookup(); }
  set_lookup port_lookup() const noexcept { return bitmap_.empty() ? ports_.lookup() : set_lookup::bitmap; }

  /// Set by the store when published (strata/sets.hpp): orders snapshots for reclamation.
  std::uint64_t version = 0;

 private:
  set_kind kind_ = set_kind::address;
  detail::value_set<std::uint32_t> v4_;
  detail::value_set<address> v6_;
  detail::value_set<std::uint32_t> ports_;
  std::vector<std::uint64_t> bitmap_;
};

namespace detail {
/// The generic membership test of a set condition (an unloaded set, null, is empty).
inline bool set_member(const set_data* s, field_id f, family fam, const incoming_values& v) noexcept {
  if (!s) return false;
  if (kind(f) == value_kind::address) return s->contains(fam, address_value(f, v));
  return s->contains_port(integer_value(f, v));
}
}  // namespace detail

}  // namespace strata
