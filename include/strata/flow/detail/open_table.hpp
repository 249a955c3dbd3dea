// The fixed-capacity open-addressing core shared by the flow and endpoint tables: robin hood hashing
// with backward-shift deletion (no tombstones), a slot array allocated once at construction, and
// a bucket count sized from the capacity at a maximum load of 7/8.
//
// Buckets: `capacity + ceil(capacity / 7)` slots, addressed by Lemire's multiply-shift reduction
// (`(hash * buckets) >> 64`) instead of a power-of-two mask. The reduction costs one multiply, like a
// mask, and lets the memory follow the capacity exactly: a power-of-two bucket count at a 7/8 load
// would waste up to half of the table (1M flows would need 2^21 buckets, 128 MB instead of 64 MB).
//
// Robin hood: every occupied slot stores its probe distance (1 = in its home bucket; 0 = empty).
// A lookup stops at the first slot whose distance is smaller than the probe's, and compares a key
// only in a slot whose distance equals the probe's (any other slot's home differs). Insertion shifts
// the run of richer entries one slot right; deletion shifts the following run one slot left. The
// distance is kept in 8 bits: a probe longer than 255 fails (`place` returns nullptr), which at a
// 7/8 load with a seeded hash does not happen in practice (expected maximum is a few dozen).
//
// Per-packet path: no allocation, no exception, no virtual call. Pointers to slots are invalidated by
// `place` and `erase` (entries move).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace strata::flow::detail {

__extension__ typedef unsigned __int128 uint128;

/// 64x64 -> 128-bit multiply, folded: the mixing step of wyhash.
constexpr std::uint64_t mum(std::uint64_t a, std::uint64_t b) noexcept {
  const uint128 r = static_cast<uint128>(a) * b;
  return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
}

/// SplitMix64's finalizer: turns a user seed into well-mixed secrets.
constexpr std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/// Lemire's reduction of a 64-bit hash to [0, n): the high half of hash * n.
constexpr std::size_t fastrange(std::uint64_t h, std::size_t n) noexcept {
  return static_cast<std::size_t>((static_cast<uint128>(h) * n) >> 64);
}

/// A timestamp in 56 bits of microseconds since the Unix epoch (good until the year 4254), sharing a
/// 64-bit word with an 8-bit field the owning table uses (the robin hood probe distance). It reads and
/// writes as nanoseconds (`std::int64_t`, as `io::timestamp::time_since_epoch().count()`), rounded down
/// to the microsecond; times before the epoch are stored as 0.
class packed_time {
 public:
  static constexpr std::uint64_t time_mask = (std::uint64_t{1} << 56) - 1;

  constexpr packed_time() noexcept = default;
  constexpr packed_time(const packed_time&) noexcept = default;
  constexpr packed_time& operator=(const packed_time&) noexcept = default;

  /// Stores `ns` (nanoseconds since the epoch); keeps the table's byte.
  constexpr packed_time& operator=(std::int64_t ns) noexcept {
    v_ = (v_ & ~time_mask) | to_us(ns);
    return *this;
  }
  /// Nanoseconds since the epoch (a multiple of 1000).
  constexpr operator std::int64_t() const noexcept { return ns(); }
  constexpr std::int64_t ns() const noexcept { return static_cast<std::int64_t>(v_ & time_mask) * 1000; }
  constexpr std::uint64_t us() const noexcept { return v_ & time_mask; }

  static constexpr std::uint64_t to_us(std::int64_t ns) noexcept {
    return ns <= 0 ? 0 : (static_cast<std::uint64_t>(ns) / 1000) & time_mask;
  }

  // The table's byte (not part of the time).
  constexpr std::uint8_t spare() const noexcept { return static_cast<std::uint8_t>(v_ >> 56); }
  constexpr void set_spare(std::uint8_t b) noexcept { v_ = (v_ & time_mask) | (std::uint64_t{b} << 56); }

 private:
  std::uint64_t v_ = 0;
};

/// The robin hood slot array. `Slot` is trivially copyable, value-initialises to empty, and gives
/// `open_table` (a friend) `std::uint8_t probe_() const` and `void set_probe_(std::uint8_t)`.
template <class Slot>
class open_table {
 public:
  static constexpr unsigned max_probe = 255;

  /// Buckets for `capacity` entries at a load of at most 7/8 (capacity 0 is taken as 1).
  static constexpr std::size_t buckets_for(std::size_t capacity) noexcept {
    if (capacity == 0) capacity = 1;
    return capacity + (capacity + 6) / 7;
  }

  explicit open_table(std::size_t capacity)
      : capacity_(capacity == 0 ? 1 : capacity),
        buckets_(buckets_for(capacity_)),
        slots_(new Slot[buckets_]()) {}  // value-initialised: every page is touched now, not per packet

  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t buckets() const noexcept { return buckets_; }
  std::size_t size() const noexcept { return size_; }
  bool full() const noexcept { return size_ >= capacity_; }
  Slot* data() const noexcept { return slots_.get(); }
  Slot& at(std::size_t i) const noexcept { return slots_[i]; }
  std::size_t index_of(const Slot* s) const noexcept { return static_cast<std::size_t>(s - slots_.get()); }
  std::size_t home(std::uint64_t h) const noexcept { return fastrange(h, buckets_); }
  std::size_t next(std::size_t i) const noexcept { return i + 1 == buckets_ ? 0 : i + 1; }
  std::size_t prev(std::size_t i) const noexcept { return i == 0 ? buckets_ - 1 : i - 1; }
  static bool occupied(const Slot& s) noexcept { return s.probe_() != 0; }

  /// The slot holding the key with hash `h` for which `eq(slot)` holds, or nullptr.
  template <class Eq>
  Slot* find(std::uint64_t h, Eq&& eq) const noexcept {
    std::size_t i = home(h);
    for (unsigned d = 1;; ++d, i = next(i)) {
      Slot& s = slots_[i];
      const unsigned sd = s.probe_();
      if (sd < d) return nullptr;  // empty, or a richer entry: ours would have been placed before it
      if (sd == d && eq(static_cast<const Slot&>(s))) return &s;
      if (d == max_probe) return nullptr;
    }
  }

  /// Makes room for a key with hash `h` that is not in the table, and returns its value-initialised
  /// slot (probe distance set), or nullptr when the probe would exceed `max_probe`. Does not check
  /// the capacity: callers evict first when `full()`.
  Slot* place(std::uint64_t h) noexcept {
    std::size_t i = home(h);
    unsigned d = 1;
    for (;; ++d, i = next(i)) {
      if (d > max_probe) return nullptr;
      if (slots_[i].probe_() < d) break;  // empty or richer: the new key goes here
    }
    // Find the end of the run that moves one slot right; no moved entry may exceed max_probe.
    std::size_t j = i;
    for (std::size_t n = 0; slots_[j].probe_() != 0; j = next(j)) {
      if (slots_[j].probe_() == max_probe || ++n == buckets_) return nullptr;
    }
    while (j != i) {
      const std::size_t p = prev(j);
      slots_[j] = slots_[p];
      slots_[j].set_probe_(static_cast<std::uint8_t>(slots_[j].probe_() + 1));
      j = p;
    }
    slots_[i] = Slot{};
    slots_[i].set_probe_(static_cast<std::uint8_t>(d));
    ++size_;
    return &slots_[i];
  }

  /// Removes the entry in slot `i` (backward shift: the following run moves one slot left).
  void erase_at(std::size_t i) noexcept {
    for (;;) {
      const std::size_t n = next(i);
      const unsigned nd = slots_[n].probe_();
      if (nd <= 1) break;  // empty, or in its home bucket: the run ends
      slots_[i] = slots_[n];
      slots_[i].set_probe_(static_cast<std::uint8_t>(nd - 1));
      i = n;
    }
    slots_[i] = Slot{};
    --size_;
  }

 private:
  std::size_t capacity_;
  std::size_t buckets_;
  std::unique_ptr<Slot[]> slots_;
  std::size_t size_ = 0;
};

/// A forward iterator over the occupied slots of an `open_table`.
template <class Slot>
class occupied_iterator {
 public:
  using value_type = Slot;
  using difference_type = std::ptrdiff_t;
  using reference = Slot&;
  using pointer = Slot*;

  occupied_iterator() = default;
  occupied_iterator(Slot* p, Slot* end) noexcept : p_(p), end_(end) { skip(); }

  Slot& operator*() const noexcept { return *p_; }
  Slot* operator->() const noexcept { return p_; }
  occupied_iterator& operator++() noexcept {
    ++p_;
    skip();
    return *this;
  }
  occupied_iterator operator++(int) noexcept {
    occupied_iterator t = *this;
    ++*this;
    return t;
  }
  friend bool operator==(const occupied_iterator& a, const occupied_iterator& b) noexcept {
    return a.p_ == b.p_;
  }

 private:
  void skip() noexcept {
    while (p_ != end_ && p_->probe_() == 0) ++p_;
  }
  Slot* p_ = nullptr;
  Slot* end_ = nullptr;
};

}  // namespace strata::flow::detail
