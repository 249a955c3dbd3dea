// Static pipelines: a policy compiled against the paths. Each layer's arbitration is unrolled with
// the filters and their condition values as constants; a layer without filters generates no code;
// a block goes to the layer's discard twin and ends the traversal. The per-packet path has no
// virtual call, no heap allocation and no exception: the run-time path choice indexes a table of
// functions generated at compile time.
#pragma once

#include <algorithm>
#include <array>
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
constexpr after_step conclude_step(path_result& res, layer_id layer, const layer_result& r, bool has_filters,
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
        return c.low.lo <= x && x <= c.high.lo;
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
    // The groups in one fold: `any` is the open group's OR (a later alternative is skipped once one
    // held), and a group that closes without a match ends the fold.
    [[maybe_unused]] bool any = false;
    const bool matched =
        (((any = ((group_marks[first + J] & 1) == 0 && any) ||
                 test_condition<condition_at<first + J>.field, condition_at<first + J>.match>(
                     condition_at<first + J>, v)),
          (group_marks[first + J] & 2) == 0 || any) &&
         ...);
    if (!matched) return;
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
    else if constexpr (end - begin > inline_limit)
      return evaluate_outlined<L>(v);
    else
      return unrolled<begin>(v, std::make_index_sequence<end - begin>{});
  }
  template <layer_id L>
  static constexpr bool has_filters =
      P.layer_begin[static_cast<std::size_t>(L)] != P.layer_begin[static_cast<std::size_t>(L) + 1];

 private:
  // A step is a template of its layer and flags only, so paths that share a step share its
  // instantiation (the dispatch table holds every path: this is most of a small policy's compile time).
  template <step s, class Trace>
  [[gnu::always_inline]] static constexpr bool run_step(incoming_values& v, std::uint32_t base_flags,
                                                        path_result& res, Trace& t) {
    v.flags = base_flags | s.flags;
    if constexpr (is_discard(s.layer)) detail::set_discard_reason(v, s.layer, false);
    const layer_result r = evaluate<s.layer>(v);
    t.record(detail::record_of(s.layer, v.flags, r));
    const auto next = detail::conclude_step(res, s.layer, r, has_filters<s.layer>, P.default_action);
    if (next == detail::after_step::next) return true;
    if constexpr (discard_twin(s.layer) != layer_id::none) {
      if (next == detail::after_step::visit_twin_then_stop) {
        constexpr layer_id twin = discard_twin(s.layer);
        detail::set_discard_reason(v, twin, true);
        t.record(detail::record_of(twin, v.flags, evaluate<twin>(v)));
      }
    }
    return false;
  }

  template <path_key Key, class Trace, std::size_t... I>
  static constexpr path_result run_steps(incoming_values v, Trace& t, std::index_sequence<I...>) {
    path_result res;
    const std::uint32_t base_flags = v.flags;
    (run_step<steps_of(Key)[I]>(v, base_flags, res, t) && ...);
    return res;
  }

 public:
  /// The pipeline of one path: its steps, unrolled.
  template <path_key Key, class Trace = no_trace>
  static constexpr path_result run(const incoming_values& v, Trace& t) {
    return run_steps<Key>(v, t, std::make_index_sequence<steps_of(Key).size()>{});
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
  using runner = path_result (*)(const incoming_values&, Trace&);
  template <class Trace, std::size_t... I>
  static constexpr std::array<runner<Trace>, sizeof...(I)> make_table(std::index_sequence<I...>) {
    return {&run<all_path_keys[I], Trace>...};
  }
  template <class Trace>
  static constexpr auto table = make_table<Trace>(std::make_index_sequence<all_path_keys.size()>{});

 public:
  /// Run-time path choice: the key indexes a table of the pipelines generated at compile time.
  template <class Trace = no_trace>
  static constexpr path_result classify(path_key key, const incoming_values& v, Trace& t) {
    return table<Trace>[detail::fast_index(key)](v, t);
  }
  static constexpr path_result classify(path_key key, const incoming_values& v) {
    no_trace t;
    return classify(key, v, t);
  }
};

}  // namespace strata
