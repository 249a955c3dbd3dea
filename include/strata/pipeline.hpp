// Static pipelines: a policy compiled against the paths. Each layer's arbitration is unrolled with
// the filters and their condition values as constants; a layer without filters generates no code;
// a block goes to the layer's discard twin and ends the traversal. The per-packet path has no
// virtual call, no heap allocation and no exception: the run-time path choice indexes a table of
// functions generated at compile time.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <utility>

#include <strata/arbitration.hpp>
#include <strata/path.hpp>

namespace strata {

/// One step of a trace: the layer visited, the flags the packet carried there, and what decided.
/// Trivially default-constructible, so that a trace can leave its unused steps uninitialized: build one
/// with every field (`record_of`).
struct step_record {
  layer_id layer;
  std::uint32_t flags;
  std::int16_t filter;
  std::int16_t sublayer;
  action act;
  bool hard;
  bool veto;
  friend constexpr bool operator==(const step_record&, const step_record&) = default;
};

/// Tracing on: every step, decision and flag, in a fixed-capacity list (no heap). Only the first `count`
/// steps are written: the rest stays uninitialized, so that a record costs nothing to build when the
/// engine does not trace (its 24 steps were ~400 bytes stored on every frame).
struct trace {
  static constexpr std::size_t capacity = 24;
  std::array<step_record, capacity> steps;
  std::uint8_t count = 0;
  constexpr void record(const step_record& s) {
    if (count < capacity) steps[count++] = s;
  }
  constexpr const step_record* begin() const { return steps.data(); }
  constexpr const step_record* end() const { return steps.data() + count; }
  constexpr std::size_t size() const { return count; }
  constexpr const step_record& operator[](std::size_t i) const { return steps[i]; }
};
/// Tracing off: records nothing and costs nothing.
struct no_trace {
  constexpr void record(const step_record&) {}
};

/// The outcome of one packet on one path.
struct path_result {
  action verdict = action::permit;
  std::int16_t filter = -1;  ///< the filter that decided the verdict, -1 for none
  std::int16_t sublayer = -1;
  layer_id layer = layer_id::none;  ///< where it was decided
  bool hard = false;
  bool veto = false;
  bool stack_discard = false;      ///< the stack dropped the packet (nobody listening)
  bool answer_suppressed = false;  ///< a filter at the discard layer blocked: no RST / ICMP error
  friend constexpr bool operator==(const path_result&, const path_result&) = default;
};

namespace detail {

enum class after_step : std::uint8_t { next, stop, visit_twin_then_stop };

/// The traversal rules of traversal.md §7, after one layer: the one place they are written.
[[gnu::always_inline]] constexpr after_step conclude_step(path_result& res, layer_id layer,
                                                          const layer_result& r, bool has_filters,
                                                          action default_action) {
  const action v = layer_verdict(r, has_filters, default_action);
  if (is_discard(layer)) {  // a stack discard (no listener): dropped whatever the filters say
    res.verdict = action::block;
    res.stack_discard = true;
    res.layer = layer;
    if (r.act == action::block) {
      res.answer_suppressed = true;
      res.filter = r.filter;
      res.sublayer = r.sublayer;
      res.hard = r.hard;
      res.veto = r.veto;
    } else {
      res.filter = -1;
    }
    return after_step::stop;
  }
  if (r.decided()) {
    res.filter = r.filter;
    res.sublayer = r.sublayer;
    res.layer = layer;
    res.hard = r.hard;
    res.veto = r.veto;
  }
  if (v == action::block) {
    res.verdict = action::block;
    if (!r.decided()) {  // the policy's default
      res.filter = -1;
      res.sublayer = -1;
      res.layer = layer;
    }
    return discard_twin(layer) != layer_id::none ? after_step::visit_twin_then_stop : after_step::stop;
  }
  return after_step::next;
}

constexpr step_record record_of(layer_id layer, std::uint32_t flags, const layer_result& r) {
  return {layer, flags, r.filter, r.sublayer, r.act, r.hard, r.veto};
}

/// The values a discard layer sees: what dropped the packet, and why.
constexpr void set_discard_reason(incoming_values& v, layer_id discard_layer, bool by_filter) {
  if (by_filter) {
    v.discard_module = static_cast<std::uint32_t>(discard_module_code::general);
    v.discard_reason = static_cast<std::uint32_t>(discard_reason_code::firewall_policy);
  } else if (kind(discard_layer) == layer_kind::transport) {
    v.discard_module = static_cast<std::uint32_t>(discard_module_code::transport);
    v.discard_reason = static_cast<std::uint32_t>(discard_reason_code::endpoint_not_found);
  } else {
    v.discard_module = static_cast<std::uint32_t>(discard_module_code::network);
    v.discard_reason = static_cast<std::uint32_t>(discard_reason_code::port_unreachable);
  }
}

/// The dense index of a path key in all_path_keys, in constant time.
inline constexpr auto inbound_rank = [] {
  std::array<std::uint8_t, path_kind_count> rank{};
  std::uint8_t n = 0;
  for (std::size_t k = 0; k < path_kind_count; ++k)
    rank[k] = starts_inbound(static_cast<path_kind>(k)) ? n++ : 0xff;
  return rank;
}();
inline constexpr std::size_t keys_per_family = all_path_keys.size() / 2;
constexpr std::size_t fast_index(path_key key) {
  const std::size_t base = key.fam == family::v6 ? keys_per_family : 0;
  const auto k = static_cast<std::size_t>(key.kind);
  return key.reassembled ? base + path_kind_count + inbound_rank[k] : base + k;
}

/// A large layer's index (compiled<P>::index_plan): the keys chosen, and each position's key.
template <class Key, std::size_t MaxKeys, std::size_t N>
struct index_plan {
  std::size_t keys = 0;
  std::array<Key, MaxKeys> key{};
  std::array<std::size_t, MaxKeys> entries{};  ///< conditions filed under each key
  std::array<std::uint8_t, N> of{};            ///< each position's key, MaxKeys for none
};
/// The filters of one 64-position word filed under one value (its hash: a bijection of an integer's).
struct index_entry {
  std::uint64_t hash;
  std::uint64_t mask;
  std::uint32_t word;
};
/// One key's hash table: bucket b (the hash's top Bits bits) holds entries [start[b], start[b + 1]).
template <unsigned Bits, std::size_t Entries>
struct index_table {
  static constexpr unsigned shift = 64 - Bits;
  std::array<std::uint16_t, (std::size_t{1} << Bits) + 1> start{};
  std::array<index_entry, Entries> entry{};
};

}  // namespace detail

/// The generic (interpreted) classification of a packet on a path: the reference implementation.
template <Policy P, class Trace = no_trace>
constexpr path_result classify_generic(const P& p, path_key key, incoming_values v, Trace& t) {
  path_result res;
  const std::uint32_t base_flags = v.flags;
  for (const step& s : steps_of(key)) {
    v.flags = base_flags | s.flags;
    if (is_discard(s.layer)) detail::set_discard_reason(v, s.layer, false);
    const layer_result r = evaluate_layer(p, s.layer, v);
    t.record(detail::record_of(s.layer, v.flags, r));
    const auto next = detail::conclude_step(res, s.layer, r, p.has_filters_at(s.layer), p.default_action);
    if (next == detail::after_step::next) continue;
    if (next == detail::after_step::visit_twin_then_stop) {
      const layer_id twin = discard_twin(s.layer);
      detail::set_discard_reason(v, twin, true);
      t.record(detail::record_of(twin, v.flags, evaluate_layer(p, twin, v)));
    }
    break;
  }
  return res;
}
template <Policy P>
constexpr path_result classify_generic(const P& p, path_key key, const incoming_values& v) {
  no_trace t;
  return classify_generic(p, key, v, t);
}

/// `verdict(policy, path::tcp::inbound_syn<v4>{}, incoming_values{...})`: usable in static_assert.
template <Policy P, Path Pa>
constexpr action verdict(const P& p, Pa, const incoming_values& v) {
  return classify_generic(p, Pa::key, v).verdict;
}

namespace error {
template <class NotAPolicy>
void compile_needs_a_policy_made_by_strata_policy();
}

/// A policy compiled into straight-line code. P is a reference to a constexpr policy:
/// `constexpr auto my_policy = policy(...);  using my_pipeline = compiled<my_policy>;`
template <auto const& P>
struct compiled {
  using policy_type = std::remove_cvref_t<decltype(P)>;
  static_assert(is_policy_v<policy_type>, "strata::compiled<P>: P must be a constexpr strata::policy(...)");
  static constexpr const policy_type& policy = P;

 private:
  // One condition test per (field, match type), shared by every condition of that shape: the operand
  // comes from the policy's constant table at a constant index, which the compiler folds into an
  // immediate once this is inlined. The common match types are spelled out (the same tests as
  // test_integer / test_address): in a large outlined layer the compiler stops inlining those generic
  // functions, and a call that switches on a constant match type costs more than the comparison.
  template <field_id F, match_type M>
  [[gnu::always_inline]] static constexpr bool test_condition(const condition_value& c,
                                                              const incoming_values& v) {
    if constexpr (is_set_match(M)) {
      return test_set(c, v);  // a run-time set: the engine passes its snapshots in `v.sets`
    } else if constexpr (kind(F) == value_kind::integer) {
      const std::uint64_t x = integer_value<F>(v);
      if constexpr (M == match_type::equal)
        return x == c.low.lo;
      else if constexpr (M == match_type::range)
        // One unsigned comparison, no branch: two made g++ build a search tree over a layer's ranges,
        // whose branches mispredict on every packet with a random port.
        return c.low.lo <= c.high.lo && x - c.low.lo <= c.high.lo - c.low.lo;
      else
        return test_integer(c, x);
    } else if constexpr (kind(F) == value_kind::address) {
      const address x = address_value<F>(v);
      if constexpr (M == match_type::equal)
        return (x & c.mask) == c.low;
      else
        return test_address(c, x);
    } else {
      return test_text(c, text_value<F>(v));
    }
  }

  // One condition as a constant of its own: the tests read their operands from it, not from the whole
  // policy (a reference into the policy makes clang emit the policy as one constant and fold every
  // operand out of it, which grew faster than the policy: 3000 filters took 25% longer).
  template <std::size_t I>
  static constexpr condition_value condition_at = P.conditions[I];

  // Where each condition stands in its filter's groups (consecutive conditions on one field are ORed,
  // the groups ANDed): bit 0 opens a group, bit 1 closes one. Computed once for the whole policy, so
  // that a filter's test is one fold (one template per filter, not one per group and condition: the
  // instantiations were most of a large policy's compile time).
  static constexpr auto group_marks = [] {
    std::array<std::uint8_t, policy_type::condition_count + 1> m{};
    for (const filter_value& f : P.filters)
      for (std::size_t j = 0; j < f.condition_count; ++j) {
        const std::size_t c = f.first_condition + j;
        const bool opens = j == 0 || P.conditions[c - 1].field != P.conditions[c].field;
        const bool closes = j + 1 == f.condition_count || P.conditions[c + 1].field != P.conditions[c].field;
        m[c] = static_cast<std::uint8_t>((opens ? 1 : 0) | (closes ? 2 : 0));
      }
    return m;
  }();

  static constexpr bool is_callout(action a) {
    return a == action::callout_terminating || a == action::callout_inspection ||
           a == action::callout_unknown;
  }
  // Whether a layer holds a callout filter. Without one, nothing after a hard decision (the write right
  // cleared) can change the layer's result: only a callout can veto, and only a callout has a side
  // effect (an inspection callout is told of every match), so the remaining filters are skipped.
  template <layer_id L>
  static constexpr bool layer_has_callouts = [] {
    for (std::size_t k = P.layer_begin[static_cast<std::size_t>(L)];
         k < P.layer_begin[static_cast<std::size_t>(L) + 1]; ++k)
      if (is_callout(P.filters[P.order[k]].act)) return true;
    return false;
  }();

  // A filter's conditions, from its first one: the groups in one fold. `any` is the open group's OR (a
  // later alternative is skipped once one held), and a group that closes without a match ends the fold.
  template <std::size_t First, std::size_t... J>
  [[gnu::always_inline]] static constexpr bool matches(const incoming_values& v, std::index_sequence<J...>) {
    [[maybe_unused]] bool any = false;
    return (((any = ((group_marks[First + J] & 1) == 0 && any) ||
                    test_condition<condition_at<First + J>.field, condition_at<First + J>.match>(
                        condition_at<First + J>, v)),
             (group_marks[First + J] & 2) == 0 || any) &&
            ...);
  }

  // Whether condition I is a test with no branch to take: an integer compared with one value or a range,
  // an address under a mask with one value.
  template <std::size_t I>
  static constexpr bool cheap_condition = [] {
    const condition_value& c = P.conditions[I];
    const value_kind k = kind(c.field);
    return (k == value_kind::integer && (c.match == match_type::equal || c.match == match_type::range)) ||
           (k == value_kind::address && c.match == match_type::equal);
  }();
  // matches(), every condition tested, the groups combined with bitwise operators: no branch for the
  // predictor to miss when all its conditions are cheap (a chain of filters all tested anyway, as in an
  // indexed layer's unindexed filters). Otherwise the short-circuiting fold.
  template <std::size_t First, std::size_t... J>
  [[gnu::always_inline]] static constexpr bool matches_flat(const incoming_values& v,
                                                            std::index_sequence<J...> j) {
    if constexpr ((cheap_condition<First + J> && ...)) {
      // 0/1 integers: bitwise operators on them are meant (on bools they read as a slip for && and ||).
      [[maybe_unused]] unsigned any = 0;
      unsigned all = 1;
      ((any = (unsigned{(group_marks[First + J] & 1) == 0} & any) |
              unsigned{test_condition<condition_at<First + J>.field, condition_at<First + J>.match>(
                  condition_at<First + J>, v)},
        all &= unsigned{(group_marks[First + J] & 2) == 0} | any),
       ...);
      return all != 0;
    } else {
      return matches<First>(v, j);
    }
  }

  // Position K of the layer's evaluation order: one filter, unrolled; J indexes its conditions.
  template <std::size_t K, std::size_t... J>
  [[gnu::always_inline]] static constexpr void filter_step(const incoming_values& v, layer_result& r,
                                                           bool& write, bool& sublayer_done,
                                                           std::index_sequence<J...>) {
    constexpr std::size_t fi = P.order[K];
    constexpr filter_value f = P.filters[fi];
    constexpr std::size_t first = f.first_condition;
    constexpr bool first_of_sublayer = K == P.layer_begin[static_cast<std::size_t>(f.layer)] ||
                                       P.filters[P.order[K - 1]].sublayer_index != f.sublayer_index;
    if constexpr (!layer_has_callouts<f.layer>) {
      if (!write) return;  // a hard decision is final in a layer without callouts
    }
    if constexpr (first_of_sublayer) sublayer_done = false;
    if (sublayer_done) return;
    if (!matches<first>(v, std::index_sequence<J...>{})) return;
    if constexpr (!is_callout(f.act)) {
      // Without a callout the outcome is a constant: fold it here, so that the filter's record is not
      // built on the stack at run time for a call.
      constexpr filter_outcome o = outcome(f, incoming_values{}, true);
      if constexpr (o.decides) {
        arbitrate(r, write, o, static_cast<int>(fi), f.sublayer_index);
        sublayer_done = true;
      }
    } else {
      const filter_outcome o = outcome(f, v, write);
      if (o.decides) {
        arbitrate(r, write, o, static_cast<int>(fi), f.sublayer_index);
        sublayer_done = true;
      }
    }
  }

  template <std::size_t Begin, std::size_t... I>
  static constexpr layer_result unrolled(const incoming_values& v, std::index_sequence<I...>) {
    layer_result r;
    bool write = true;
    bool sublayer_done = false;
    // A braced list, not a fold: it evaluates in order and has no nesting limit (a layer may hold
    // a thousand filters).
    [[maybe_unused]] const bool stepped[] = {
        (filter_step<Begin + I>(v, r, write, sublayer_done,
                                std::make_index_sequence<P.filters[P.order[Begin + I]].condition_count>{}),
         true)...};
    return r;
  }

  // Filters [Begin, Begin + sizeof...(I)) of a layer, continuing the layer's state.
  template <std::size_t Begin, std::size_t... I>
  static constexpr void steps(const incoming_values& v, layer_result& r, bool& write, bool& sublayer_done,
                              std::index_sequence<I...>) {
    [[maybe_unused]] const bool stepped[] = {
        (filter_step<Begin + I>(v, r, write, sublayer_done,
                                std::make_index_sequence<P.filters[P.order[Begin + I]].condition_count>{}),
         true)...};
  }
  template <std::size_t Begin, std::size_t N>
  [[gnu::noinline]] static constexpr void chunk(const incoming_values& v, layer_result& r, bool& write,
                                                bool& sublayer_done) {
    steps<Begin>(v, r, write, sublayer_done, std::make_index_sequence<N>{});
  }
  template <layer_id L, std::size_t... C>
  static constexpr layer_result chunks(const incoming_values& v, std::index_sequence<C...>) {
    constexpr std::size_t begin = P.layer_begin[static_cast<std::size_t>(L)];
    constexpr std::size_t end = P.layer_begin[static_cast<std::size_t>(L) + 1];
    layer_result r;
    bool write = true;
    bool sublayer_done = false;
    [[maybe_unused]] const bool stepped[] = {
        ((layer_has_callouts<L> || write
              ? chunk<begin + C * chunk_size, std::min(chunk_size, end - begin - C * chunk_size)>(
                    v, r, write, sublayer_done)
              : void()),
         true)...};
    return r;
  }

  // ---- Large layers: an index of their exact conditions --------------------------------------------------
  // A large layer without callouts is not tested filter by filter. The filters that test a field for one
  // value (a protocol, a port, an address or a prefix: a group of `equal` conditions) are found through
  // hash tables of those values built at compile time, so only the filters filed under the packet's values
  // are tested; the others (ranges, negations, sets, text) are tested in an unrolled chain. The index only
  // narrows: every candidate is tested whole before it counts, and the matches are arbitrated in the
  // layer's evaluation order, as the chain does. Measured on the 167-filter layers of bench/'s p1000: the
  // chain costs about a third of a cycle per filter, a lookup a few cycles, so it pays from a few dozen
  // filters up.

 public:
  /// Layers of at least this many filters, none of them a callout, are evaluated through an index of
  /// their exact conditions (see evaluate_indexed) when it holds at least half of them.
  static constexpr std::size_t index_min = 48;

 private:
  // A field tested for one value under one mask (the full mask for integers).
  struct index_key {
    field_id field{};
    bool is_address = false;
    address mask{~std::uint64_t{0}, ~std::uint64_t{0}};
    friend constexpr bool operator==(const index_key&, const index_key&) = default;
  };
  static constexpr std::size_t max_index_keys = 3;
  static constexpr std::uint8_t unindexed = max_index_keys;

  template <layer_id L>
  static constexpr std::size_t begin_of = P.layer_begin[static_cast<std::size_t>(L)];
  template <layer_id L>
  static constexpr std::size_t size_of = P.layer_begin[static_cast<std::size_t>(L) + 1] - begin_of<L>;

  // Whether conditions [C, C + count) (one group: alternatives on one field) can be filed under a key.
  static constexpr bool indexable(std::size_t c, std::size_t count, index_key& key) {
    const value_kind k = kind(P.conditions[c].field);
    if (k != value_kind::integer && k != value_kind::address) return false;
    key = {P.conditions[c].field, k == value_kind::address,
           k == value_kind::address ? P.conditions[c].mask : address{~std::uint64_t{0}, ~std::uint64_t{0}}};
    for (std::size_t i = c; i < c + count; ++i)
      if (P.conditions[i].match != match_type::equal || !(P.conditions[i].mask == P.conditions[c].mask))
        return false;
    return true;
  }
  // Calls on(key, first condition, size) for each group of filter F that can be filed under a key, until
  // it returns true.
  static constexpr void indexable_groups(const filter_value& f, auto on) {
    std::size_t open = f.first_condition;
    for (std::size_t c = f.first_condition; c < f.first_condition + f.condition_count; ++c) {
      if (group_marks[c] & 1) open = c;
      index_key k;
      if ((group_marks[c] & 2) && indexable(open, c + 1 - open, k) && on(k, open, c + 1 - open)) return;
    }
  }
  // The first group of filter F that can be filed under `key`: its first condition and size (size 0: none).
  static constexpr std::pair<std::size_t, std::size_t> group_under(const filter_value& f,
                                                                   const index_key& key) {
    std::pair<std::size_t, std::size_t> g{0, 0};
    indexable_groups(f, [&](const index_key& k, std::size_t first, std::size_t size) {
      if (k == key) g = {first, size};
      return k == key;
    });
    return g;
  }
  // The value a condition of a group filed under `key` is filed under.
  static constexpr std::uint64_t key_value(const index_key& key, const condition_value& c) {
    return key.is_address ? fold(c.low & key.mask) : c.low.lo;
  }
  // Whether the filter at position K of layer L can decide it. In a layer without callouts one that cannot
  // (`continue`) changes nothing, so neither the chain nor the index looks at it.
  template <layer_id L>
  static constexpr bool decides(std::size_t k) {
    return outcome(P.filters[P.order[begin_of<L> + k]], incoming_values{}, true).decides;
  }

  // Whether the filters not yet filed that `key` would file hold distinct values enough: at most four
  // filters per value on average.
  template <layer_id L>
  static constexpr bool selective(const auto& of, const index_key& key, std::size_t filters) {
    std::array<std::uint64_t, policy_type::condition_count + 1> values{};
    std::size_t n = 0;
    for (std::size_t k = 0; k < size_of<L>; ++k) {
      if (of[k] != unindexed) continue;
      const auto [first, size] = group_under(P.filters[P.order[begin_of<L> + k]], key);
      for (std::size_t c = first; c < first + size; ++c) values[n++] = key_value(key, P.conditions[c]);
    }
    std::sort(values.begin(), values.begin() + n);
    std::size_t distinct = 0;
    for (std::size_t i = 0; i < n; ++i) distinct += i == 0 || values[i] != values[i - 1];
    return filters <= 4 * distinct;
  }

  // The layer's keys, chosen greedily (the key the most filters not yet filed can be found under), and
  // each position's key (`unindexed` for the chain). No index when less than half the filters would be in it.
  template <layer_id L>
  static constexpr auto index_plan = [] {
    constexpr std::size_t n = size_of<L>;
    detail::index_plan<index_key, max_index_keys, n> p{};
    p.of.fill(unindexed);
    if (n < index_min || layer_has_callouts<L>) return p;
    for (std::size_t d = 0; d < max_index_keys; ++d) {
      std::array<index_key, 16> seen{};
      std::array<std::size_t, 16> count{};
      std::size_t distinct = 0;
      for (std::size_t k = 0; k < n; ++k) {
        if (p.of[k] != unindexed) continue;
        indexable_groups(P.filters[P.order[begin_of<L> + k]],
                         [&](const index_key& key, std::size_t, std::size_t) {
                           std::size_t i = 0;
                           while (i < distinct && !(seen[i] == key)) ++i;
                           if (i == distinct && distinct < seen.size()) seen[distinct++] = key;
                           if (i < distinct) ++count[i];
                           return false;
                         });
      }
      // The key filing the most filters, among the selective ones: a lookup that finds many candidates (a
      // protocol: two values for dozens of filters) costs more than the chain it replaces.
      std::size_t best = 0;
      for (;;) {
        best = 0;
        for (std::size_t i = 1; i < distinct; ++i)
          if (count[i] > count[best]) best = i;
        if (distinct == 0 || count[best] < 8 || selective<L>(p.of, seen[best], count[best])) break;
        count[best] = 0;
      }
      if (distinct == 0 || count[best] < 8) break;
      p.key[d] = seen[best];
      for (std::size_t k = 0; k < n; ++k) {
        if (p.of[k] != unindexed) continue;
        const auto [first, size] = group_under(P.filters[P.order[begin_of<L> + k]], p.key[d]);
        if (size == 0) continue;
        p.of[k] = static_cast<std::uint8_t>(d);
        p.entries[d] += size;
      }
      p.keys = d + 1;
    }
    std::size_t filed = 0;
    for (const std::uint8_t o : p.of) filed += o != unindexed;
    if (filed * 2 < n) {
      p.keys = 0;
      p.of.fill(unindexed);
    }
    return p;
  }();

  // An address as one integer: itself when the mask leaves no bit in the high half (IPv4, IPv6 prefixes
  // up to /64 are not: they fold).
  static constexpr std::uint64_t fold(const address& a) { return a.lo ^ (a.hi * 0xC2B2AE3D27D4EB4Full); }
  // Fibonacci hashing: the bucket from the product's high bits. A product by an odd constant is a
  // bijection, so equal hashes mean equal integers: a filter whose only test is its key needs no other.
  static constexpr std::uint64_t index_hash(std::uint64_t x) { return x * 0x9E3779B97F4A7C15ull; }
  // Whether each position needs its whole test when its key's value is found: not when the key is its
  // only test and equal hashes prove equal values (an integer, or an address masked within its low half).
  // One evaluation per layer: a template per position cost clang ~1 ms each (4 s at 3000 filters).
  template <layer_id L>
  static constexpr auto needs_test = [] {
    std::array<bool, size_of<L>> t{};
    for (std::size_t k = 0; k < size_of<L>; ++k) {
      if (index_plan<L>.of[k] == unindexed) continue;
      const index_key& key = index_plan<L>.key[index_plan<L>.of[k]];
      const filter_value& f = P.filters[P.order[begin_of<L> + k]];
      t[k] = !((!key.is_address || key.mask.hi == 0) && group_under(f, key).second == f.condition_count);
    }
    return t;
  }();

  // log2 of key D's bucket count: at least twice its entries, so that most buckets hold none or one.
  template <layer_id L, std::size_t D>
  static constexpr unsigned index_bits =
      static_cast<unsigned>(std::bit_width(2 * std::max<std::size_t>(index_plan<L>.entries[D], 4) - 1));
  // Key D's hash table: bucket b holds entries [start[b], start[b + 1]), in evaluation order.
  template <layer_id L, std::size_t D>
  static constexpr auto index_table = [] {
    constexpr auto& plan = index_plan<L>;
    constexpr std::size_t entries = plan.entries[D];
    constexpr unsigned bits = index_bits<L, D>;
    detail::index_table<bits, entries> t{};
    std::array<std::uint64_t, entries> hash{};
    std::array<std::uint16_t, entries> position{};
    std::size_t e = 0;
    for (std::size_t k = 0; k < size_of<L>; ++k) {
      if (plan.of[k] != D || !decides<L>(k)) continue;
      const auto [first, size] = group_under(P.filters[P.order[begin_of<L> + k]], plan.key[D]);
      for (std::size_t c = first; c < first + size; ++c) {
        hash[e] = index_hash(key_value(plan.key[D], P.conditions[c]));
        position[e++] = static_cast<std::uint16_t>(k);
      }
    }
    // The conditions (`e`: those of filters that can decide) sorted by bucket (a counting sort, stable:
    // each bucket in evaluation order), then one entry per (value, word) in each bucket: the filters under
    // one value OR their bits at once.
    std::array<std::size_t, (std::size_t{1} << bits) + 1> from{};
    for (std::size_t i = 0; i < e; ++i) ++from[(hash[i] >> t.shift) + 1];
    for (std::size_t b = 1; b < from.size(); ++b) from[b] += from[b - 1];
    std::array<std::size_t, entries> sorted{};
    auto next = from;
    for (std::size_t i = 0; i < e; ++i) sorted[next[hash[i] >> t.shift]++] = i;
    std::size_t placed = 0;
    for (std::size_t b = 0; b + 1 < t.start.size(); ++b) {
      t.start[b] = static_cast<std::uint16_t>(placed);
      const std::size_t first = placed;
      for (std::size_t s = from[b]; s < from[b + 1]; ++s) {
        const std::size_t i = sorted[s];
        const std::uint32_t word = position[i] / 64;
        std::size_t j = first;
        while (j < placed && !(t.entry[j].hash == hash[i] && t.entry[j].word == word)) ++j;
        if (j == placed) t.entry[placed++] = {hash[i], 0, word};
        t.entry[j].mask |= std::uint64_t{1} << (position[i] % 64);
      }
    }
    t.start.back() = static_cast<std::uint16_t>(placed);
    return t;
  }();

  // Marks the candidates filed under the packet's value of key D.
  template <layer_id L, std::size_t D>
  [[gnu::always_inline]] static constexpr void mark_candidates(const incoming_values& v,
                                                               std::uint64_t* words) {
    constexpr index_key key = index_plan<L>.key[D];
    constexpr auto& t = index_table<L, D>;
    std::uint64_t x;
    if constexpr (key.is_address)
      x = fold(address_value<key.field>(v) & key.mask);
    else
      x = integer_value<key.field>(v);
    const std::uint64_t h = index_hash(x);
    const std::size_t b = h >> t.shift;
    for (std::size_t i = t.start[b]; i < t.start[b + 1]; ++i)
      if (t.entry[i].hash == h) words[t.entry[i].word] |= t.entry[i].mask;
  }

  // Positions in a constant list, so that a pack expands over just them: a template per position of the
  // layer (those that need nothing included) was most of the index's compile time.
  template <std::size_t N>
  struct position_list {
    std::array<std::uint16_t, N> at{};
    std::size_t size = 0;
  };
  // The unindexed filters among positions [64 W, 64 W + 64) that can decide.
  template <layer_id L, std::size_t W>
  static constexpr auto unindexed_in = [] {
    position_list<64> r;
    for (std::size_t k = W * 64; k < std::min(size_of<L>, W * 64 + 64); ++k)
      if (index_plan<L>.of[k] == unindexed && decides<L>(k)) r.at[r.size++] = static_cast<std::uint16_t>(k);
    return r;
  }();
  // The filters that need their whole test when found through the index.
  template <layer_id L>
  static constexpr auto tested = [] {
    position_list<size_of<L>> r;
    for (std::size_t k = 0; k < size_of<L>; ++k)
      if (needs_test<L>[k] && decides<L>(k)) r.at[r.size++] = static_cast<std::uint16_t>(k);
    return r;
  }();

  // The filter at position K of the evaluation order matches.
  template <std::size_t K>
  [[gnu::always_inline]] static constexpr bool matches_at(const incoming_values& v) {
    return matches<P.filters[P.order[K]].first_condition>(
        v, std::make_index_sequence<P.filters[P.order[K]].condition_count>{});
  }
  template <std::size_t K>
  [[gnu::always_inline]] static constexpr bool matches_flat_at(const incoming_values& v) {
    return matches_flat<P.filters[P.order[K]].first_condition>(
        v, std::make_index_sequence<P.filters[P.order[K]].condition_count>{});
  }
  // The unindexed filters of word W: one bit each (position % 64), set when it matches.
  template <layer_id L, std::size_t W, std::size_t... I>
  [[gnu::noinline]] static constexpr std::uint64_t unindexed_word(const incoming_values& v,
                                                                  std::index_sequence<I...>) {
    return ((std::uint64_t{matches_flat_at<begin_of<L> + unindexed_in<L, W>.at[I]>(v)}
             << (unindexed_in<L, W>.at[I] % 64)) |
            ... | std::uint64_t{0});
  }
  template <layer_id L, std::size_t W>
  [[gnu::always_inline]] static constexpr std::uint64_t unindexed_matches(const incoming_values& v) {
    if constexpr (unindexed_in<L, W>.size > 0)
      return unindexed_word<L, W>(v, std::make_index_sequence<unindexed_in<L, W>.size>{});
    else
      return 0;
  }

  // A candidate's whole test, out of line: the few candidates are reached through a table.
  template <std::size_t K>
  [[gnu::noinline]] static constexpr bool test_at(const incoming_values& v) {
    return matches_at<K>(v);
  }
  using filter_test = bool (*)(const incoming_values&);
  struct position_info {
    filter_test test;  ///< nullptr when its bit is set only if it matched (unindexed, or proven by its key)
    filter_outcome outcome;
    std::int16_t filter;
    std::int16_t sublayer;
  };
  template <layer_id L, std::size_t... I>
  static constexpr std::array<filter_test, sizeof...(I)> make_tests(std::index_sequence<I...>) {
    return {&test_at<begin_of<L> + tested<L>.at[I]>...};
  }
  template <layer_id L>
  static constexpr auto positions = [] {
    constexpr auto tests = make_tests<L>(std::make_index_sequence<tested<L>.size>{});
    std::array<position_info, size_of<L>> a{};
    for (std::size_t k = 0; k < size_of<L>; ++k) {
      const filter_value& f = P.filters[P.order[begin_of<L> + k]];
      a[k] = {nullptr, outcome(f, incoming_values{}, true),
              static_cast<std::int16_t>(P.order[begin_of<L> + k]),
              static_cast<std::int16_t>(f.sublayer_index)};
    }
    for (std::size_t i = 0; i < tests.size(); ++i) a[tested<L>.at[i]].test = tests[i];
    return a;
  }();

  template <layer_id L, std::size_t... W, std::size_t... D>
  [[gnu::always_inline]] static constexpr void candidates(const incoming_values& v, std::uint64_t* words,
                                                          std::index_sequence<W...>,
                                                          std::index_sequence<D...>) {
    ((words[W] = unindexed_matches<L, W>(v)), ...);
    (mark_candidates<L, D>(v, words), ...);
  }

  template <layer_id L>
  [[gnu::noinline]] static constexpr layer_result evaluate_indexed(const incoming_values& v) {
    constexpr std::size_t word_count = (size_of<L> + 63) / 64;
    std::uint64_t words[word_count];
    candidates<L>(v, words, std::make_index_sequence<word_count>{},
                  std::make_index_sequence<index_plan<L>.keys>{});
    layer_result r;
    bool write = true;
    int decided_sublayer = -1;  // positions are grouped by sublayer: its first decision is its answer
    for (std::size_t w = 0; w < word_count; ++w)
      for (std::uint64_t m = words[w]; m != 0; m &= m - 1) {
        const position_info& p = positions<L>[w * 64 + static_cast<std::size_t>(std::countr_zero(m))];
        if (p.sublayer == decided_sublayer || (p.test && !p.test(v))) continue;
        arbitrate(r, write, p.outcome, p.filter, p.sublayer);
        decided_sublayer = p.sublayer;
        if (!write) return r;  // no callout here: a hard decision is final
      }
    return r;
  }

  template <layer_id L>
  [[gnu::noinline]] static constexpr layer_result evaluate_outlined(const incoming_values& v) {
    constexpr std::size_t begin = P.layer_begin[static_cast<std::size_t>(L)];
    constexpr std::size_t end = P.layer_begin[static_cast<std::size_t>(L) + 1];
    if constexpr (end - begin <= chunk_size)
      return unrolled<begin>(v, std::make_index_sequence<end - begin>{});
    else
      return chunks<L>(v, std::make_index_sequence<(end - begin + chunk_size - 1) / chunk_size>{});
  }

 public:
  /// Layers with more filters than this are emitted once and called from every path that visits
  /// them, instead of being inlined into each: the code (and the compile time) stays linear.
  static constexpr std::size_t inline_limit = 8;
  /// A large layer is emitted as a sequence of functions of at most this many filters (one call per
  /// chunk at run time): the compiler's optimizer is superlinear in a function's size, the chunks keep
  /// the compile time linear in the number of filters.
  static constexpr std::size_t chunk_size = 64;

  /// One layer's arbitration, unrolled.
  template <layer_id L>
  static constexpr layer_result evaluate(const incoming_values& v) {
    constexpr std::size_t begin = P.layer_begin[static_cast<std::size_t>(L)];
    constexpr std::size_t end = P.layer_begin[static_cast<std::size_t>(L) + 1];
    if constexpr (begin == end)
      return {};
    else if constexpr (index_plan<L>.keys > 0)
      return evaluate_indexed<L>(v);
    else if constexpr (end - begin > inline_limit)
      return evaluate_outlined<L>(v);
    else
      return unrolled<begin>(v, std::make_index_sequence<end - begin>{});
  }
  /// Whether layer L is evaluated through the index of its exact conditions (see index_min).
  template <layer_id L>
  static constexpr bool indexed = index_plan<L>.keys > 0;
  template <layer_id L>
  static constexpr bool has_filters =
      P.layer_begin[static_cast<std::size_t>(L)] != P.layer_begin[static_cast<std::size_t>(L) + 1];

 private:
  // A step is a template of its layer and flags only, so paths that share a step share its
  // instantiation (the dispatch table holds every path: this is most of a small policy's compile time).
  // The packet's values are copied only for a step that changes them (its flags, a discard's reason):
  // a copy of values just written by the caller is read back over narrower stores (a store-forwarding
  // stall on every packet), and most steps add no flag.
  template <step s, class Trace>
  [[gnu::always_inline]] static constexpr bool run_step(const incoming_values& in, path_result& res,
                                                        Trace& t) {
    if constexpr (s.flags != 0 || is_discard(s.layer)) {
      incoming_values v = in;
      v.flags |= s.flags;
      if constexpr (is_discard(s.layer)) detail::set_discard_reason(v, s.layer, false);
      return conclude<s>(v, evaluate<s.layer>(v), res, t);
    } else {
      return conclude<s>(in, evaluate<s.layer>(in), res, t);
    }
  }
  template <step s, class Trace>
  [[gnu::always_inline]] static constexpr bool conclude(const incoming_values& v, const layer_result& r,
                                                        path_result& res, Trace& t) {
    t.record(detail::record_of(s.layer, v.flags, r));
    const auto next = detail::conclude_step(res, s.layer, r, has_filters<s.layer>, P.default_action);
    if (next == detail::after_step::next) return true;
    if constexpr (discard_twin(s.layer) != layer_id::none) {
      if (next == detail::after_step::visit_twin_then_stop) {
        constexpr layer_id twin = discard_twin(s.layer);
        incoming_values tv = v;
        detail::set_discard_reason(tv, twin, true);
        t.record(detail::record_of(twin, tv.flags, evaluate<twin>(tv)));
      }
    }
    return false;
  }

  template <path_key Key, class Trace, std::size_t... I>
  [[gnu::always_inline]] static constexpr void run_steps(const incoming_values& v, Trace& t, path_result& res,
                                                         std::index_sequence<I...>) {
    res = path_result{};
    (run_step<steps_of(Key)[I]>(v, res, t) && ...);
  }

 public:
  /// The pipeline of one path: its steps, unrolled; the outcome written into `out`, field by field.
  /// (Returned by value through the dispatch table, the 12-byte result was built on the stack from
  /// narrow stores and read back as two wide loads: a store-forwarding stall on every packet.)
  template <path_key Key, class Trace = no_trace>
  static constexpr void run_into(const incoming_values& v, Trace& t, path_result& out) {
    run_steps<Key>(v, t, out, std::make_index_sequence<steps_of(Key).size()>{});
  }
  /// The pipeline of one path: its steps, unrolled.
  template <path_key Key, class Trace = no_trace>
  static constexpr path_result run(const incoming_values& v, Trace& t) {
    path_result res;
    run_steps<Key>(v, t, res, std::make_index_sequence<steps_of(Key).size()>{});
    return res;
  }
  template <Path Pa, class Trace = no_trace>
  static constexpr path_result run(const incoming_values& v, Trace& t) {
    return run<Pa::key>(v, t);
  }
  template <Path Pa>
  static constexpr path_result run(const incoming_values& v) {
    no_trace t;
    return run<Pa::key>(v, t);
  }

 private:
  template <class Trace>
  using runner = void (*)(const incoming_values&, Trace&, path_result&);
  template <class Trace, std::size_t... I>
  static constexpr std::array<runner<Trace>, sizeof...(I)> make_table(std::index_sequence<I...>) {
    return {&run_into<all_path_keys[I], Trace>...};
  }
  template <class Trace>
  static constexpr auto table = make_table<Trace>(std::make_index_sequence<all_path_keys.size()>{});

 public:
  /// Run-time path choice: the key indexes a table of the pipelines generated at compile time.
  template <class Trace = no_trace>
  static constexpr path_result classify(path_key key, const incoming_values& v, Trace& t) {
    path_result r;
    table<Trace>[detail::fast_index(key)](v, t, r);
    return r;
  }
  /// The dispatch table itself (path `key`'s pipeline, run_into, at detail::fast_index(key)), for a
  /// caller that picks the policy at run time: the key need not cross a call (a 3-byte key passed in a
  /// register was built on the stack and read back over narrower stores).
  template <class Trace = no_trace>
  static constexpr const auto& pipelines() {
    return table<Trace>;
  }
  static constexpr path_result classify(path_key key, const incoming_values& v) {
    no_trace t;
    return classify(key, v, t);
  }
};

}  // namespace strata
