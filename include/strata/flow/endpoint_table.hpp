// Local endpoints (traversal.md §2): which (family, protocol, local address, local port) are bound.
// An endpoint that has neither sent nor received is bound by its first outbound packet; one that
// received traffic for a listener was bound by that listener; a TCP active open always binds.
//
//   strata::flow::endpoint_table endpoints{1u << 14};
//   const endpoint_key ep{family::v4, 17, local, 5353};
//   if (!endpoints.contains(ep)) { /* ALE_BIND_REDIRECT, ALE_RESOURCE_ASSIGNMENT */ }
//   endpoints.bind(ep, now);
//
// Same structure as the flow table (detail/open_table.hpp): one 32-byte slot per bucket, buckets =
// capacity * 8/7 (36.6 bytes per endpoint), allocated at construction. When full, binding a new
// endpoint evicts the least recently used one among the first `eviction_sample` entries found from the
// new key's home bucket on (an approximate LRU; counted in `evicted`). Endpoints do not expire by time.
//
// Per-packet path: no allocation, no exception, no virtual call. Pointers stay valid until the next
// `bind` of a new endpoint or `erase`.
#pragma once

#include <cstddef>
#include <cstdint>

#include <strata/address.hpp>
#include <strata/flow/detail/open_table.hpp>
#include <strata/io/frame.hpp>

namespace strata::flow {

/// A local endpoint: family, protocol, local address and port.
struct endpoint_key {
  family fam = family::none;
  std::uint8_t protocol = 0;
  address local{};
  std::uint16_t local_port = 0;

  friend constexpr bool operator==(const endpoint_key&, const endpoint_key&) = default;
};

/// One bound endpoint. 32 bytes.
class endpoint_entry {
 public:
  endpoint_key key() const noexcept { return {fam_, protocol_, local_, local_port_}; }
  family fam() const noexcept { return fam_; }
  std::uint8_t protocol() const noexcept { return protocol_; }
  const address& local() const noexcept { return local_; }
  std::uint16_t local_port() const noexcept { return local_port_; }

 private:
  address local_{};
  std::uint16_t local_port_ = 0;
  family fam_ = family::none;
  std::uint8_t protocol_ = 0;

 public:
  std::uint8_t user = 0;  ///< free for the caller (e.g. bound by a listener vs by a send)
  /// When the endpoint was last bound or used: nanoseconds since the epoch, stored to the microsecond.
  detail::packed_time last_used{};

 private:
  template <class>
  friend class detail::open_table;
  template <class>
  friend class detail::occupied_iterator;
  friend class endpoint_table;
  std::uint8_t probe_() const noexcept { return last_used.spare(); }
  void set_probe_(std::uint8_t d) noexcept { last_used.set_spare(d); }
  bool matches_(const endpoint_key& k) const noexcept {
    return local_port_ == k.local_port && protocol_ == k.protocol && fam_ == k.fam && local_ == k.local;
  }
};

static_assert(sizeof(endpoint_entry) == 32, "endpoint_entry must stay at 32 bytes");

/// Size and eviction sample of an endpoint table.
struct endpoint_table_config {
  std::size_t capacity = std::size_t{1} << 14;  ///< endpoints held at most (0 is taken as 1)
  std::size_t eviction_sample = 16;             ///< entries examined for the least recently used victim
  std::uint64_t seed = 0xe4d90147ull;           ///< hash seed (fixed by default: reproducible runs)
};

/// What an endpoint table counted. `size` and `capacity` are a snapshot.
struct endpoint_stats {
  std::uint64_t inserted = 0;       ///< endpoints newly bound
  std::uint64_t evicted = 0;        ///< bound endpoints evicted to make room
  std::uint64_t erased = 0;         ///< removed by erase()/unbind()
  std::uint64_t insert_failed = 0;  ///< binds that found no slot within the probe limit (not expected)
  std::uint64_t size = 0;
  std::uint64_t capacity = 0;
};

/// The outcome of `endpoint_table::bind`.
struct endpoint_bind_result {
  endpoint_entry* entry = nullptr;  ///< the endpoint's entry; nullptr only if insert_failed
  bool inserted = false;            ///< newly bound (false: it was bound already; `last_used` refreshed)
  bool evicted = false;             ///< another endpoint was evicted to make room
  endpoint_key evicted_key{};       ///< which one
};

class endpoint_table {
 public:
  using iterator = detail::occupied_iterator<endpoint_entry>;
  using const_iterator = detail::occupied_iterator<const endpoint_entry>;

  explicit endpoint_table(const endpoint_table_config& config)
      : config_(config), table_(config.capacity), seed_(detail::splitmix64(config.seed)) {
    if (config_.eviction_sample == 0) config_.eviction_sample = 1;
    if (config_.eviction_sample > table_.buckets()) config_.eviction_sample = table_.buckets();
  }
  explicit endpoint_table(std::size_t capacity)
      : endpoint_table(endpoint_table_config{.capacity = capacity}) {}

  endpoint_table(const endpoint_table&) = delete;
  endpoint_table& operator=(const endpoint_table&) = delete;
  endpoint_table(endpoint_table&&) noexcept = default;
  endpoint_table& operator=(endpoint_table&&) noexcept = default;

  endpoint_entry* find(const endpoint_key& k) noexcept {
    return table_.find(hash(k), [&](const endpoint_entry& e) { return e.matches_(k); });
  }
  const endpoint_entry* find(const endpoint_key& k) const noexcept {
    return table_.find(hash(k), [&](const endpoint_entry& e) { return e.matches_(k); });
  }
  /// Whether `k` is bound.
  bool contains(const endpoint_key& k) const noexcept { return find(k) != nullptr; }

  /// Binds `k` at `now_ns` (or refreshes `last_used` when bound), evicting the least recently used
  /// sampled endpoint when full.
  endpoint_bind_result bind(const endpoint_key& k, std::int64_t now_ns) noexcept {
    endpoint_bind_result r;
    const std::uint64_t h = hash(k);
    if (endpoint_entry* e = table_.find(h, [&](const endpoint_entry& x) { return x.matches_(k); })) {
      e->last_used = now_ns;
      r.entry = e;
      return r;
    }
    if (table_.full()) evict(h, r);
    endpoint_entry* e = table_.place(h);
    if (e == nullptr) {
      ++stats_.insert_failed;
      return r;
    }
    e->fam_ = k.fam;
    e->protocol_ = k.protocol;
    e->local_ = k.local;
    e->local_port_ = k.local_port;
    e->last_used = now_ns;
    ++stats_.inserted;
    r.entry = e;
    r.inserted = true;
    return r;
  }
  endpoint_bind_result bind(const endpoint_key& k, io::timestamp now) noexcept {
    return bind(k, now.time_since_epoch().count());
  }

  void erase(endpoint_entry* e) noexcept {
    if (e == nullptr) return;
    table_.erase_at(table_.index_of(e));
    ++stats_.erased;
  }
  /// Unbinds `k`; returns whether it was bound.
  bool unbind(const endpoint_key& k) noexcept {
    endpoint_entry* e = find(k);
    erase(e);
    return e != nullptr;
  }

  iterator begin() noexcept { return {table_.data(), table_.data() + table_.buckets()}; }
  iterator end() noexcept { return {table_.data() + table_.buckets(), table_.data() + table_.buckets()}; }
  const_iterator begin() const noexcept { return {table_.data(), table_.data() + table_.buckets()}; }
  const_iterator end() const noexcept {
    return {table_.data() + table_.buckets(), table_.data() + table_.buckets()};
  }

  std::size_t size() const noexcept { return table_.size(); }
  std::size_t capacity() const noexcept { return table_.capacity(); }
  std::size_t bucket_count() const noexcept { return table_.buckets(); }
  std::size_t memory_bytes() const noexcept { return table_.buckets() * sizeof(endpoint_entry); }

  endpoint_stats stats() const noexcept {
    endpoint_stats s = stats_;
    s.size = table_.size();
    s.capacity = table_.capacity();
    return s;
  }

  std::uint64_t hash(const endpoint_key& k) const noexcept {
    const std::uint64_t meta = (std::uint64_t{k.local_port} << 16) |
                               (std::uint64_t{static_cast<std::uint8_t>(k.fam)} << 8) | k.protocol;
    return detail::mum(k.local.hi ^ seed_ ^ 0xa0761d6478bd642full,
                       k.local.lo ^ detail::mum(meta ^ 0xe7037ed1a0b428dbull, seed_ ^ 0x8ebc6af09c88c6e3ull));
  }

 private:
  void evict(std::uint64_t h, endpoint_bind_result& r) noexcept {
    std::size_t i = table_.home(h);
    std::size_t best = table_.buckets();
    std::uint64_t best_used = 0;
    std::size_t sampled = 0;
    for (std::size_t n = 0; sampled < config_.eviction_sample; ++n, i = table_.next(i)) {
      if (n == table_.buckets()) break;
      const endpoint_entry& e = table_.at(i);
      if (!table_.occupied(e)) continue;
      ++sampled;
      if (best == table_.buckets() || e.last_used.us() < best_used) {
        best = i;
        best_used = e.last_used.us();
      }
    }
    if (best == table_.buckets()) return;
    r.evicted = true;
    r.evicted_key = table_.at(best).key();
    ++stats_.evicted;
    table_.erase_at(best);
  }

  endpoint_table_config config_;
  detail::open_table<endpoint_entry> table_;
  std::uint64_t seed_;
  endpoint_stats stats_{};
};

}  // namespace strata::flow
