// Run-time sets owned by the engine: publication, atomic replacement, reauthorization. (The contents
// and their lookup structures are in strata/set_data.hpp; the condition syntax,
// `remote_address.in(address_set<"blocklist">)`, in strata/condition.hpp; set files in
// strata/set_file.hpp.) Everything here is a template: a policy that names no set instantiates none of it.
//
// Replacement is RCU-like. A writer (any thread: the CLI's signal thread, a test) builds a new
// immutable set, then publishes it with one atomic pointer store and bumps the store's generation.
// The engine (one thread: its worker) compares the generation once per frame (one load) and, when it
// moved, picks the new snapshots up before classifying: a frame sees either the old set or the new
// one, never a half-built one, and the per-packet path takes no lock and allocates nothing. The
// worker then acknowledges the version it now uses; the writer frees, on its next replacement or when
// the engine goes, the snapshots older than the acknowledged one (the worker never goes back).
//
// Picking up a set reauthorizes the flows whose decision it can change (traversal.md §8): for each
// condition of the policy in force on that set, the flow's value for the condition's field (local
// or remote address or port, from the flow's key) is looked up in the old and the new set, and a flow
// for which they differ is marked; its next packet visits the ALE authorization layer with
// IS_REAUTHORIZE. A set used on any other field marks every flow. A set named by the policy but never
// loaded is empty.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <vector>

#include <strata/condition.hpp>
#include <strata/flow/flow_table.hpp>
#include <strata/set_data.hpp>

namespace strata {

/// A set an engine's policies name, and what it holds.
struct set_info {
  std::string_view name;
  set_kind kind = set_kind::address;
};

namespace error {
// Undefined on purpose: the compiler names the set.
template <detail::fixed_string Set>
void run_time_set_is_used_both_as_an_address_set_and_as_a_port_set();
}  // namespace error

namespace detail {

/// One published snapshot: the set and its version (owned by the slot, read by the engine).
template <class Data>
struct basic_set_node {
  std::shared_ptr<const Data> data;
  std::uint64_t version = 0;
};

/// One named set's publication point. A template only so that a translation unit that names no set
/// instantiates none of it (a header-only library pays for every inline function in every TU).
template <class Data>
class basic_set_slot {
 public:
  using node = basic_set_node<Data>;
  basic_set_slot() = default;
  basic_set_slot(const basic_set_slot&) = delete;
  basic_set_slot& operator=(const basic_set_slot&) = delete;

  /// Writer side (any thread).
  void publish(std::shared_ptr<const Data> d) {
    std::lock_guard lock(writer_);  // writers only: the reader never takes it
    auto n = std::make_unique<node>();
    n->data = std::move(d);
    n->version = ++last_version_;
    published_.store(n.get(), std::memory_order_release);
    kept_.push_back(std::move(n));
    reclaim();
  }
  /// The set last published (writer side), or null.
  std::shared_ptr<const Data> current() const {
    std::lock_guard lock(writer_);
    return kept_.empty() ? nullptr : kept_.back()->data;
  }
  /// Snapshots not yet freed (the published one included): a bounded number once the engine runs.
  std::size_t kept() const {
    std::lock_guard lock(writer_);
    return kept_.size();
  }

  /// Reader side (the engine's thread).
  const node* published() const noexcept { return published_.load(std::memory_order_acquire); }
  void acknowledge(std::uint64_t version) noexcept {
    acknowledged_.store(version, std::memory_order_release);
  }

 private:
  void reclaim() {
    const std::uint64_t in_use = acknowledged_.load(std::memory_order_acquire);
    std::size_t keep = 0;
    while (keep < kept_.size() && kept_[keep]->version < in_use) ++keep;
    kept_.erase(kept_.begin(), kept_.begin() + static_cast<std::ptrdiff_t>(keep));
  }

  std::atomic<const node*> published_{nullptr};
  std::atomic<std::uint64_t> acknowledged_{0};
  mutable std::mutex writer_;
  std::vector<std::unique_ptr<node>> kept_;  // oldest first
  std::uint64_t last_version_ = 0;
};

using set_slot = basic_set_slot<set_data>;
using set_node = basic_set_node<set_data>;

template <std::size_t N>
struct set_store {
  std::array<set_slot, N> slots;
  std::atomic<std::uint64_t> generation{0};  // bumped after every publication
};

}  // namespace detail

/// A handle on one of an engine's sets, of kind K: `engine.set<"blocklist">().replace({...})`. Any
/// thread may replace; the engine picks the new contents up before its next frame.
template <set_kind K>
class set_handle {
 public:
  explicit set_handle(detail::set_slot& s, std::atomic<std::uint64_t>& generation)
      : slot_(&s), gen_(&generation) {}

  /// Replaces the contents (an address set: IPv4 and IPv6 prefixes or addresses).
  void replace(std::span<const prefix> entries) requires(K == set_kind::address) {
    replace(std::make_shared<const set_data>(set_data::addresses(entries)));
  }
  void replace(std::initializer_list<prefix> entries) requires(K == set_kind::address) {
    replace(std::span<const prefix>(entries.begin(), entries.size()));
  }
  /// Replaces the contents (a port set: ports and ranges).
  void replace(std::span<const port_range> entries) requires(K == set_kind::port) {
    replace(std::make_shared<const set_data>(set_data::ports(entries)));
  }
  void replace(std::initializer_list<port_range> entries) requires(K == set_kind::port) {
    replace(std::span<const port_range>(entries.begin(), entries.size()));
  }
  /// Publishes a set built elsewhere (shared by several engines: the workers of a live session).
  /// Returns false, changing nothing, when it holds the other kind.
  bool replace(std::shared_ptr<const set_data> d) {
    if (d && d->kind() != K) return false;
    slot_->publish(std::move(d));
    gen_->fetch_add(1, std::memory_order_release);
    return true;
  }
  void clear() { replace(std::shared_ptr<const set_data>{}); }
  /// The contents last published (null: never loaded, empty).
  std::shared_ptr<const set_data> current() const { return slot_->current(); }

 private:
  detail::set_slot* slot_;
  std::atomic<std::uint64_t>* gen_;
};

namespace detail {

/// The sets of an engine's policies, by name, at compile time; `conflict` names a set used with two kinds.
template <std::size_t N>
struct set_table {
  std::array<set_info, N> sets{};
  std::size_t count = 0;
  std::string_view conflict{};
};

template <auto const&... Ps>
consteval auto gather_sets() {
  constexpr std::size_t n = (std::size_t{0} + ... + Ps.set_count);
  set_table<n> t;
  auto add = [&](const auto& p) {
    for (const condition_value& c : p.conditions) {
      if (!is_set_match(c.match)) continue;
      const auto k = static_cast<set_kind>(c.high.lo);
      bool found = false;
      for (std::size_t i = 0; i < t.count; ++i) {
        if (t.sets[i].name != c.text) continue;
        found = true;
        if (t.sets[i].kind != k && t.conflict.empty()) t.conflict = c.text;
      }
      if (!found) t.sets[t.count++] = {c.text, k};
    }
  };
  (add(Ps), ...);
  return t;
}

template <std::size_t N>
consteval fixed_string<N + 1> to_fixed(std::string_view s) {
  char text[N + 1]{};
  for (std::size_t i = 0; i < N; ++i) text[i] = s[i];
  return fixed_string<N + 1>(text);
}
template <fixed_string Conflict>
consteval bool check_set_kinds() {
  if constexpr (Conflict.size() > 0)
    error::run_time_set_is_used_both_as_an_address_set_and_as_a_port_set<Conflict>();
  return true;
}

// Which fields of a flow's key a set is tested on (bits), or `other_field` (every flow is affected).
inline constexpr std::uint8_t local_address_bit = 1, remote_address_bit = 2, local_port_bit = 4,
                              remote_port_bit = 8, other_field = 16;
constexpr std::uint8_t field_bit(field_id f) {
  switch (f) {
    case field_id::ip_local_address:
      return local_address_bit;
    case field_id::ip_remote_address:
      return remote_address_bit;
    case field_id::ip_local_port:
      return local_port_bit;
    case field_id::ip_remote_port:
      return remote_port_bit;
    default:
      return other_field;
  }
}

template <std::size_t N>
constexpr int find_set(const set_table<N>& t, std::string_view name) {
  for (std::size_t i = 0; i < t.count; ++i)
    if (t.sets[i].name == name) return static_cast<int>(i);
  return -1;
}

template <auto const&... Ps>
inline constexpr auto engine_set_table = gather_sets<Ps...>();

// slot_of[p][j]: the engine's slot of policy p's set j.
template <std::size_t PerPolicy, auto const&... Ps>
consteval auto set_slots_of() {
  std::array<std::array<std::uint8_t, PerPolicy>, sizeof...(Ps)> r{};
  std::size_t p = 0;
  auto add = [&](const auto& pol) {
    for (const condition_value& c : pol.conditions)
      if (is_set_match(c.match))
        r[p][static_cast<std::size_t>(c.low.lo)] =
            static_cast<std::uint8_t>(find_set(engine_set_table<Ps...>, c.text));
    ++p;
  };
  (add(Ps), ...);
  return r;
}
// uses[p][slot]: the fields policy p tests the set on (field_bit).
template <std::size_t Count, auto const&... Ps>
consteval auto set_uses_of() {
  std::array<std::array<std::uint8_t, Count + 1>, sizeof...(Ps)> r{};
  std::size_t p = 0;
  auto add = [&](const auto& pol) {
    for (const condition_value& c : pol.conditions)
      if (is_set_match(c.match))
        r[p][static_cast<std::size_t>(find_set(engine_set_table<Ps...>, c.text))] |= field_bit(c.field);
    ++p;
  };
  (add(Ps), ...);
  return r;
}

/// The engine's run-time sets: nothing is allocated or checked per frame when no policy names a set.
template <auto const&... Policies>
class engine_sets {
  static constexpr const auto& table = engine_set_table<Policies...>;
  static_assert(check_set_kinds<to_fixed<table.conflict.size()>(table.conflict)>());

 public:
  static constexpr std::size_t count = table.count;
  static constexpr std::size_t policy_count = sizeof...(Policies);
  static constexpr std::span<const set_info> list() { return {table.sets.data(), table.count}; }
  static constexpr int find(std::string_view name) { return find_set(table, name); }

 private:
  static constexpr std::size_t per_policy = std::max({std::size_t{1}, Policies.set_count...});
  static constexpr auto slot_of = set_slots_of<per_policy, Policies...>();
  static constexpr auto uses = set_uses_of<count, Policies...>();
  static constexpr std::array<std::size_t, policy_count> set_counts{Policies.set_count...};

 public:
  engine_sets() {
    if constexpr (count > 0) store_ = std::make_unique<set_store<count>>();
  }

  /// A handle on set `slot` (any thread), of its kind.
  template <set_kind K>
  set_handle<K> handle(std::size_t slot) {
    return set_handle<K>(store_->slots[slot], store_->generation);
  }
  /// Publishes `d` as the set named `name` (any thread); false when no policy names it or `d` holds
  /// the other kind.
  bool publish(std::string_view name, std::shared_ptr<const set_data> d) {
    const int i = find(name);
    if (i < 0 || (d && d->kind() != table.sets[static_cast<std::size_t>(i)].kind)) return false;
    store_->slots[static_cast<std::size_t>(i)].publish(std::move(d));
    store_->generation.fetch_add(1, std::memory_order_release);
    return true;
  }
  const set_slot& slot(std::size_t i) const { return store_->slots[i]; }

  /// The snapshots of policy p's sets, by the policy's set index (what `incoming_values::sets` takes).
  const set_data* const* view(std::size_t p) const noexcept { return views_[p].data(); }

  /// Picks up newly published sets (the engine's thread, before a frame); marks the flows of policy
  /// `active` whose decision the change can affect. Returns the number of flows marked.
  std::size_t pick_up(flow::flow_table& flows, std::size_t active) {
    if constexpr (count == 0) {
      return 0;
    } else {
      // The per-frame cost: one load. Tested here, inlined: in the call, g++ set up the whole frame of
      // pick_up_changed (registers, its loops' state) before the test.
      const std::uint64_t g = store_->generation.load(std::memory_order_acquire);
      if (g == seen_) [[likely]]
        return 0;
      return pick_up_changed(flows, active, g);
    }
  }

 private:
  [[gnu::noinline]] std::size_t pick_up_changed(flow::flow_table& flows, std::size_t active,
                                                std::uint64_t g) {
    seen_ = g;
    std::size_t marked = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const set_node* n = store_->slots[i].published();
      if (n == in_use_[i]) continue;
      const set_data* before = in_use_[i] ? in_use_[i]->data.get() : nullptr;
      const set_data* after = n ? n->data.get() : nullptr;
      marked += mark(flows, uses[active][i], before, after);
      in_use_[i] = n;
      for (std::size_t p = 0; p < policy_count; ++p)
        for (std::size_t j = 0; j < per_policy; ++j)
          if (slot_of[p][j] == i && j < set_counts[p]) views_[p][j] = after;
      store_->slots[i].acknowledge(n ? n->version : 0);
    }
    return marked;
  }

  static bool member(const set_data* s, family f, const address& a) { return s && s->contains(f, a); }
  static bool member(const set_data* s, std::uint16_t port) { return s && s->contains_port(port); }

  static std::size_t mark(flow::flow_table& flows, std::uint8_t use, const set_data* before,
                          const set_data* after) {
    if (use == 0) return 0;  // the policy in force does not name this set
    std::size_t marked = 0;
    flows.for_each([&](flow::flow_entry& e) {
      bool changed = (use & other_field) != 0;
      if (!changed && (use & local_address_bit))
        changed = member(before, e.fam(), e.local()) != member(after, e.fam(), e.local());
      if (!changed && (use & remote_address_bit))
        changed = member(before, e.fam(), e.remote()) != member(after, e.fam(), e.remote());
      if (!changed && (use & local_port_bit))
        changed = member(before, e.local_port()) != member(after, e.local_port());
      if (!changed && (use & remote_port_bit))
        changed = member(before, e.remote_port()) != member(after, e.remote_port());
      if (!changed) return;
      e.policy_epoch = 0;  // the engine's epochs start at 1: this flow is reauthorized on its next packet
      ++marked;
    });
    return marked;
  }

  std::unique_ptr<set_store<count>> store_;
  std::array<const set_node*, count> in_use_{};
  std::array<std::array<const set_data*, per_policy>, policy_count> views_{};
  std::uint64_t seen_ = 0;
};

}  // namespace detail

}  // namespace strata
