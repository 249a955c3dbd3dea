// The flow table (traversal.md §2): a fixed-capacity hash table of flows, allocated once at
// construction, that evicts by priority when full and expires idle non-TCP flows incrementally.
//
//   strata::flow::flow_table flows{{.capacity = 1u << 16}};
//   flow_key k{family::v4, 6, local, remote, 40980, 80};
//   if (flow_entry* e = flows.find(k)) { e->last_seen = now; ... }
//   else if (auto r = flows.insert(k, now); r.entry) { r.entry->state = tcp_state::syn_sent; ... }
//   flows.expire_paced(now);  // once per packet: usually one comparison, now and then a slice of the table
//
// Layout: one 56-byte slot per bucket holding the whole key and the flow's state (no pointers, no
// separate allocation); buckets = capacity * 8/7, so a full table costs 64 bytes per flow, table
// overhead included (1M flows: 64,000,048 bytes). See detail/open_table.hpp for the hashing scheme.
//
// Eviction when full (an insert of a new key into a table holding `capacity` flows): the victim is
// chosen among the first `eviction_sample` entries (16) found from the new key's home bucket on, by
// priority
//   1. a non-TCP flow idle longer than the timeout (it had expired; counted in `expired`),
//   2. an embryonic TCP flow (state none, syn_sent, syn_received), oldest first (`evicted_embryonic`),
//   3. a closing or closed TCP flow, oldest first (`evicted_other`),
//   4. any other flow (established TCP, live non-TCP), least recently seen first (`evicted_idle`).
// Sampling a window instead of keeping per-class LRU lists: the lists would need two links per entry
// (8 more bytes, past the 64-byte budget) and relinking on every packet, and robin hood moves entries,
// so every move would have to patch its neighbours' links. The sample sits where the insert reads
// anyway (about 18 buckets, 1 KB, at full load). An established flow is evicted only when none of the
// 16 sampled entries is expired, embryonic or closing: with a table that is 85% SYN flood, a chance
// of 0.15^16 = 7e-14 per insert. (The sample counts entries, not buckets: at a 7/8 load, robin hood
// leaves runs of 10 and more empty buckets, and a window of buckets can hold one entry.) Within a
// class the choice is the oldest of the sample (an approximate LRU, as in Redis).
//
// Expiry: `expire(now)` examines at most `budget` buckets from a cursor that sweeps the table, and
// removes non-TCP flows idle longer than `non_tcp_timeout` (60 s); `expire_paced(now)` calls it with a
// slice of the table each millisecond of `now`, a whole sweep per `sweep_period` (1 s). TCP flows never
// expire by time; they leave by RST/FIN handling in the engine (state closed, then port reuse) or by
// eviction.
//
// Reauthorization (§8): the table does not interpret `policy_epoch`. The engine keeps a global epoch,
// stamps a flow with it when the flow is authorized, and bumps it on a policy switch: every flow with
// an older epoch is then pending reauthorization, in O(1), without touching the table. The
// `reauth_pending` bit and `for_each` are there for a caller that prefers explicit marks.
//
// Per-packet path: no allocation, no exception, no virtual call. `find`, `insert`, `erase` and
// `expire` are O(1) expected (bounded by the 255-slot probe limit and the eviction window).
// Pointers returned by `find`/`insert` stay valid until the next `insert`, `erase` or `expire`
// (robin hood moves entries).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>

#include <strata/address.hpp>
#include <strata/flow/detail/open_table.hpp>
#include <strata/io/frame.hpp>

namespace strata::flow {

/// A TCP flow's state (traversal.md §2). `closing`: one FIN seen; `closed`: both FINs, or a RST.
enum class tcp_state : std::uint8_t { none, syn_sent, syn_received, established, closing, closed };

/// Which side created the flow: the ALE layer its reauthorization visits (§8).
enum class flow_origin : std::uint8_t { inbound, outbound };

/// A flow's key, from the observed host's point of view. TCP: protocol 6 and both ports. Other
/// protocols: ICMP puts the type in `local_port` and the code in `remote_port` (echo flows: the
/// identifier); protocols without ports leave them 0.
struct flow_key {
  family fam = family::none;
  std::uint8_t protocol = 0;
  address local{};
  address remote{};
  std::uint16_t local_port = 0;
  std::uint16_t remote_port = 0;

  friend constexpr bool operator==(const flow_key&, const flow_key&) = default;
};

/// One tracked flow: its key (read-only) and what the engine keeps about it. 56 bytes.
class flow_entry {
 public:
  flow_key key() const noexcept { return {fam_, protocol_, local_, remote_, local_port_, remote_port_}; }
  family fam() const noexcept { return fam_; }
  std::uint8_t protocol() const noexcept { return protocol_; }
  const address& local() const noexcept { return local_; }
  const address& remote() const noexcept { return remote_; }
  std::uint16_t local_port() const noexcept { return local_port_; }
  std::uint16_t remote_port() const noexcept { return remote_port_; }
  bool is_tcp() const noexcept { return protocol_ == 6; }
  flow_origin origin() const noexcept {
    return inbound_origin ? flow_origin::inbound : flow_origin::outbound;
  }
  void set_origin(flow_origin o) noexcept { inbound_origin = o == flow_origin::inbound; }

 private:
  // Key (set by the table at insertion).
  address local_{};
  address remote_{};
  std::uint16_t local_port_ = 0;
  std::uint16_t remote_port_ = 0;
  family fam_ = family::none;
  std::uint8_t protocol_ = 0;

 public:
  tcp_state state = tcp_state::none;  ///< TCP state; `none` for other protocols
  bool inbound_origin : 1 = false;    ///< created by an inbound packet (else outbound)
  bool syn_ack_seen : 1 = false;      ///< client side: the SYN-ACK answering our SYN arrived
  bool fin_local : 1 = false;         ///< the host sent a FIN
  bool fin_remote : 1 = false;        ///< the remote sent a FIN
  bool reauth_pending : 1 = false;    ///< free for explicit reauthorization marks (see the header comment)
  /// When the flow last saw a packet: nanoseconds since the epoch, stored to the microsecond. Assign
  /// `now` on every packet (`e->last_seen = now`); reads convert to `std::int64_t` nanoseconds.
  detail::packed_time last_seen{};
  std::uint32_t policy_epoch = 0;  ///< the engine's policy epoch when the flow was last authorized
  std::uint32_t user = 0;          ///< free for the caller

 private:
  template <class>
  friend class detail::open_table;
  template <class>
  friend class detail::occupied_iterator;
  friend class flow_table;
  std::uint8_t probe_() const noexcept { return last_seen.spare(); }
  void set_probe_(std::uint8_t d) noexcept { last_seen.set_spare(d); }
  void set_key_(const flow_key& k) noexcept {
    fam_ = k.fam;
    protocol_ = k.protocol;
    local_ = k.local;
    remote_ = k.remote;
    local_port_ = k.local_port;
    remote_port_ = k.remote_port;
  }
  bool matches_(const flow_key& k) const noexcept {
    return local_port_ == k.local_port && remote_port_ == k.remote_port && protocol_ == k.protocol &&
           fam_ == k.fam && local_ == k.local && remote_ == k.remote;
  }
};

static_assert(sizeof(flow_entry) == 56, "flow_entry must stay at 56 bytes (64 bytes per flow at a 7/8 load)");

/// Sizes, timeout and eviction sample of a flow table.
struct flow_table_config {
  std::size_t capacity = std::size_t{1} << 16;  ///< flows held at most (0 is taken as 1)
  std::chrono::nanoseconds non_tcp_timeout =
      std::chrono::seconds(60);      ///< idle time after which a non-TCP flow expires
  std::size_t eviction_sample = 16;  ///< entries examined for a victim when full (at least 1)
  std::size_t expire_budget = 8;     ///< buckets `expire(now)` examines per call by default
  /// `expire_paced`: one whole sweep of the table per period.
  std::chrono::nanoseconds sweep_period = std::chrono::seconds(1);
  std::uint64_t seed =
      0x5157a7a5eedull;  ///< hash seed; fixed by default so that offline runs are reproducible
};

/// What a flow table counted. `size` and `capacity` are a snapshot.
struct flow_stats {
  std::uint64_t inserted = 0;           ///< new flows inserted
  std::uint64_t evicted_embryonic = 0;  ///< evicted when full: TCP none/syn_sent/syn_received
  std::uint64_t evicted_idle = 0;   ///< evicted when full: a live flow (established TCP, unexpired non-TCP)
  std::uint64_t evicted_other = 0;  ///< evicted when full: TCP closing/closed
  std::uint64_t expired = 0;  ///< non-TCP flows removed after the idle timeout (by expire() or by an insert)
  std::uint64_t erased = 0;   ///< removed by erase()
  std::uint64_t insert_failed = 0;  ///< inserts that found no slot within the probe limit (not expected)
  std::uint64_t size = 0;           ///< flows held now
  std::uint64_t capacity = 0;       ///< flows held at most

  constexpr std::uint64_t evicted() const noexcept {
    return evicted_embryonic + evicted_idle + evicted_other;
  }
};

/// Why an insert removed another flow.
enum class eviction : std::uint8_t { none, expired, embryonic, closing, idle };

/// The outcome of `flow_table::insert`.
struct flow_insert_result {
  flow_entry* entry = nullptr;        ///< the key's entry (new or existing); nullptr only if insert_failed
  bool inserted = false;              ///< false: the key was already present and `entry` is its flow
  eviction evicted = eviction::none;  ///< the flow removed to make room, if any
  flow_key evicted_key{};             ///< its key (when `evicted != none`)
};

class flow_table {
 public:
  using iterator = detail::occupied_iterator<flow_entry>;
  using const_iterator = detail::occupied_iterator<const flow_entry>;

  explicit flow_table(const flow_table_config& config)
      : config_(config), table_(config.capacity), seed_(detail::splitmix64(config.seed)) {
    if (config_.eviction_sample == 0) config_.eviction_sample = 1;
    if (config_.eviction_sample > table_.buckets()) config_.eviction_sample = table_.buckets();
  }
  explicit flow_table(std::size_t capacity) : flow_table(flow_table_config{.capacity = capacity}) {}

  flow_table(const flow_table&) = delete;
  flow_table& operator=(const flow_table&) = delete;
  flow_table(flow_table&&) noexcept = default;
  flow_table& operator=(flow_table&&) noexcept = default;

  /// A key with its hash (`hash(key)`), for a caller that asks several questions about one key (prefetch,
  /// then find or insert): the hash (three 128-bit multiplications) is computed once.
  /// Not an aggregate: `insert({fam, protocol, ...}, now)` still means a flow_key.
  struct hashed_key {
    hashed_key() = default;
    explicit hashed_key(const flow_key& k, std::uint64_t h) noexcept : key(k), hash(h) {}
    flow_key key{};
    std::uint64_t hash = 0;
  };

  /// The flow of `k`, or nullptr.
  flow_entry* find(const flow_key& k) noexcept { return find_(k, hash(k)); }
  flow_entry* find(const hashed_key& k) noexcept { return find_(k.key, k.hash); }
  const flow_entry* find(const flow_key& k) const noexcept {
    return table_.find(hash(k), [&](const flow_entry& e) { return e.matches_(k); });
  }
  bool contains(const flow_key& k) const noexcept { return find(k) != nullptr; }
  /// Starts loading the cache line where `find(k)` will look first, for a caller with other work to do
  /// before it (a lookup in a table larger than the caches is mostly that miss).
  void prefetch(const flow_key& k) const noexcept { prefetch_(hash(k)); }
  void prefetch(const hashed_key& k) const noexcept { prefetch_(k.hash); }

  /// Inserts a new flow for `k` seen at `now_ns` (state none, outbound origin, epoch 0, user 0), evicting
  /// one flow first when the table is full (see the header comment). If `k` is present, returns its
  /// entry unchanged with `inserted == false`.
  flow_insert_result insert(const flow_key& k, std::int64_t now_ns) noexcept {
    return insert_(k, hash(k), now_ns);
  }
  flow_insert_result insert(const hashed_key& k, std::int64_t now_ns) noexcept {
    return insert_(k.key, k.hash, now_ns);
  }
  flow_insert_result insert(const flow_key& k, io::timestamp now) noexcept {
    return insert(k, now.time_since_epoch().count());
  }

  /// Removes a flow (a pointer from `find`/`insert`/iteration, still valid).
  void erase(flow_entry* e) noexcept {
    if (e == nullptr) return;
    table_.erase_at(table_.index_of(e));
    ++stats_.erased;
  }
  /// Removes the flow of `k`; returns whether there was one.
  bool erase(const flow_key& k) noexcept {
    flow_entry* e = find(k);
    erase(e);
    return e != nullptr;
  }

  /// Moves the sweep cursor over up to `budget` buckets (at most the whole table) and removes the
  /// non-TCP flows idle longer than the timeout at `now_ns`, at most `budget` of them. Returns how many
  /// it removed.
  std::size_t expire(std::int64_t now_ns, std::size_t budget) noexcept {
    const std::uint64_t now_us = detail::packed_time::to_us(now_ns);
    if (budget > table_.buckets()) budget = table_.buckets();
    std::size_t removed = 0;
    for (std::size_t advanced = 0; advanced < budget && removed < budget;) {
      if (cursor_ >= table_.buckets()) cursor_ = 0;
      flow_entry& e = table_.at(cursor_);
      if (table_.occupied(e) && !e.is_tcp() && idle_expired(e, now_us)) {
        table_.erase_at(cursor_);  // the next entry may move here: look at this bucket again
        ++stats_.expired;
        ++removed;
      } else {
        ++cursor_;
        ++advanced;
      }
    }
    return removed;
  }
  std::size_t expire(std::int64_t now_ns) noexcept { return expire(now_ns, config_.expire_budget); }

  /// Expiry at the pace of the clock, never faster than `expire` on every packet: the whole table once per
  /// `sweep_period` of `now_ns`, a slice of 1/`sweep_slices` of it each time the clock has moved on by that
  /// fraction of the period (a clock that jumps ahead gets the slices it skipped), but no more buckets
  /// than `expire_budget` per call since the last slice. Between slices a call is an addition and a
  /// comparison; at a million packets a second it sweeps ~100 times less than `expire(now)` on every
  /// packet; at a few packets a second, as much. Returns how many flows it removed.
  std::size_t expire_paced(std::int64_t now_ns) noexcept {
    credit_ = std::min(credit_ + config_.expire_budget, table_.buckets());
    if (next_slice_ns_ == std::numeric_limits<std::int64_t>::min()) next_slice_ns_ = now_ns;
    if (now_ns < next_slice_ns_) {
      // A clock that went back by more than a period (another capture, a reset clock) restarts the pace.
      const std::uint64_t early =
          static_cast<std::uint64_t>(next_slice_ns_) - static_cast<std::uint64_t>(now_ns);
      if (early <= static_cast<std::uint64_t>(config_.sweep_period.count())) return 0;
      next_slice_ns_ = now_ns;
    }
    const std::int64_t step = std::max<std::int64_t>(1, config_.sweep_period.count() / sweep_slices);
    const std::size_t slice = (table_.buckets() + sweep_slices - 1) / sweep_slices;
    // Slices due: one, plus those the clock skipped (unsigned: any two times' difference fits).
    const std::uint64_t late =
        static_cast<std::uint64_t>(now_ns) - static_cast<std::uint64_t>(next_slice_ns_);
    const std::uint64_t due = late / static_cast<std::uint64_t>(step) >= sweep_slices
                                  ? sweep_slices
                                  : 1 + late / static_cast<std::uint64_t>(step);
    next_slice_ns_ = now_ns > std::numeric_limits<std::int64_t>::max() - step
                         ? std::numeric_limits<std::int64_t>::max()
                         : now_ns + step;
    const std::size_t budget = std::min(credit_, static_cast<std::size_t>(due) * slice);
    credit_ -= budget;
    return expire(now_ns, budget);
  }
  std::size_t expire(io::timestamp now, std::size_t budget) noexcept {
    return expire(now.time_since_epoch().count(), budget);
  }
  std::size_t expire(io::timestamp now) noexcept { return expire(now.time_since_epoch().count()); }

  /// Calls `f(flow_entry&)` for every flow (do not insert or erase from `f`).
  template <class F>
  void for_each(F&& f) {
    for (flow_entry& e : *this) f(e);
  }

  iterator begin() noexcept { return {table_.data(), table_.data() + table_.buckets()}; }
  iterator end() noexcept { return {table_.data() + table_.buckets(), table_.data() + table_.buckets()}; }
  const_iterator begin() const noexcept { return {table_.data(), table_.data() + table_.buckets()}; }
  const_iterator end() const noexcept {
    return {table_.data() + table_.buckets(), table_.data() + table_.buckets()};
  }

  std::size_t size() const noexcept { return table_.size(); }
  bool empty() const noexcept { return table_.size() == 0; }
  std::size_t capacity() const noexcept { return table_.capacity(); }
  std::size_t bucket_count() const noexcept { return table_.buckets(); }
  /// Bytes of the slot array (the table's whole memory, allocated at construction).
  std::size_t memory_bytes() const noexcept { return table_.buckets() * sizeof(flow_entry); }
  const flow_table_config& config() const noexcept { return config_; }

  flow_stats stats() const noexcept {
    flow_stats s = stats_;
    s.size = table_.size();
    s.capacity = table_.capacity();
    return s;
  }

  /// The seeded hash of a key (exposed for tests).
  std::uint64_t hash(const flow_key& k) const noexcept {
    const std::uint64_t meta = (std::uint64_t{k.local_port} << 48) | (std::uint64_t{k.remote_port} << 32) |
                               (std::uint64_t{static_cast<std::uint8_t>(k.fam)} << 8) | k.protocol;
    const std::uint64_t a =
        detail::mum(k.local.hi ^ seed_ ^ 0xa0761d6478bd642full, k.local.lo ^ 0xe7037ed1a0b428dbull);
    const std::uint64_t b =
        detail::mum(k.remote.hi ^ 0x8ebc6af09c88c6e3ull, k.remote.lo ^ seed_ ^ 0x589965cc75374cc3ull);
    return detail::mum(a ^ meta ^ 0x1d8e4e27c47d124full, b ^ seed_);
  }

 private:
  flow_entry* find_(const flow_key& k, std::uint64_t h) noexcept {
    return table_.find(h, [&](const flow_entry& e) { return e.matches_(k); });
  }
  void prefetch_(std::uint64_t h) const noexcept { __builtin_prefetch(table_.data() + table_.home(h)); }
  flow_insert_result insert_(const flow_key& k, std::uint64_t h, std::int64_t now_ns) noexcept {
    flow_insert_result r;
    if (flow_entry* e = find_(k, h)) {
      r.entry = e;
      return r;
    }
    if (table_.full()) evict(h, now_ns, r);
    flow_entry* e = table_.place(h);
    if (e == nullptr) {
      ++stats_.insert_failed;
      return r;
    }
    e->set_key_(k);
    e->last_seen = now_ns;
    ++stats_.inserted;
    r.entry = e;
    r.inserted = true;
    return r;
  }

  bool idle_expired(const flow_entry& e, std::uint64_t now_us) const noexcept {
    const std::uint64_t last = e.last_seen.us();
    return now_us > last &&
           now_us - last > static_cast<std::uint64_t>(config_.non_tcp_timeout.count() / 1000);
  }

  // Lower is evicted first.
  unsigned victim_class(const flow_entry& e, std::uint64_t now_us) const noexcept {
    if (!e.is_tcp()) return idle_expired(e, now_us) ? 0 : 3;
    switch (e.state) {
      case tcp_state::none:
      case tcp_state::syn_sent:
      case tcp_state::syn_received:
        return 1;
      case tcp_state::closing:
      case tcp_state::closed:
        return 2;
      case tcp_state::established:
        return 3;
    }
    return 3;
  }

  void evict(std::uint64_t h, std::int64_t now_ns, flow_insert_result& r) noexcept {
    const std::uint64_t now_us = detail::packed_time::to_us(now_ns);
    std::size_t i = table_.home(h);
    std::size_t best = table_.buckets();
    unsigned best_class = 4;
    std::uint64_t best_seen = 0;
    std::size_t sampled = 0;
    for (std::size_t n = 0; sampled < config_.eviction_sample; ++n, i = table_.next(i)) {
      if (n == table_.buckets()) break;  // fewer entries than the sample: all were seen
      const flow_entry& e = table_.at(i);
      if (!table_.occupied(e)) continue;
      ++sampled;
      const unsigned c = victim_class(e, now_us);
      const std::uint64_t seen = e.last_seen.us();
      if (c < best_class || (c == best_class && seen < best_seen)) {
        best = i;
        best_class = c;
        best_seen = seen;
        if (c == 0) break;  // an expired flow: nothing is cheaper to drop
      }
    }
    if (best == table_.buckets()) return;  // an empty table (cannot happen when full)
    const flow_entry& v = table_.at(best);
    r.evicted_key = v.key();
    switch (best_class) {
      case 0:
        r.evicted = eviction::expired;
        ++stats_.expired;
        break;
      case 1:
        r.evicted = eviction::embryonic;
        ++stats_.evicted_embryonic;
        break;
      case 2:
        r.evicted = eviction::closing;
        ++stats_.evicted_other;
        break;
      default:
        r.evicted = eviction::idle;
        ++stats_.evicted_idle;
        break;
    }
    table_.erase_at(best);
  }

  flow_table_config config_;
  detail::open_table<flow_entry> table_;
  std::uint64_t seed_;
  // expire_paced: a slice every 1 ms at the default period.
  static constexpr std::uint64_t sweep_slices = 1000;
  std::size_t cursor_ = 0;
  std::int64_t next_slice_ns_ = std::numeric_limits<std::int64_t>::min();
  std::size_t credit_ = 0;  // expire_paced: buckets it may still examine (expire_budget per call)
  flow_stats stats_{};
};

}  // namespace strata::flow
