// Arbitration (../shared/spec/arbitration.md): how the filters of one layer reach a decision.
// The rules live here once, as constexpr functions over one filter and one state; the compiled
// pipeline (pipeline.hpp) unrolls them with constant filters, the generic evaluator below loops.
#pragma once

#include <cstdint>

#include <strata/policy.hpp>

namespace strata {

/// What one layer decided.
struct layer_result {
  action act = action::none;   ///< permit or block, or none when no filter decided
  std::int16_t filter = -1;    ///< deciding filter (index into the policy), -1 for none
  std::int16_t sublayer = -1;  ///< its sublayer (index into the policy's sorted sublayers)
  bool hard = false;           ///< the write right was cleared (hard permit or hard block)
  bool veto = false;           ///< a callout's block overrode a hard permit
  constexpr bool decided() const { return act == action::permit || act == action::block; }
  friend constexpr bool operator==(const layer_result&, const layer_result&) = default;
};

/// What one matching filter says.
struct filter_outcome {
  bool decides = false;  ///< permit or block (continue and inspection do not decide)
  action act = action::none;
  bool hard = false;
  bool from_callout = false;
};

/// The answer of a matching filter, given the current write right.
constexpr filter_outcome outcome(const filter_value& f, const incoming_values& v, bool write_right) {
  switch (f.act) {
    case action::permit:
      return {true, action::permit, f.flags.has(clear_action_right), false};
    case action::block:
      return {true, action::block, true, false};  // a static block is hard
    case action::continue_:
      return {};
    case action::callout_inspection:
      if (f.callout) (void)f.callout(v, write_right);  // told, never decides
      return {};
    case action::callout_terminating:
    case action::callout_unknown: {
      if (!f.callout) {  // unregistered: block, unless the filter says permit
        if (f.flags.has(permit_if_callout_unregistered)) return {true, action::permit, false, false};
        return {true, action::block, true, false};
      }
      const callout_answer a = f.callout(v, write_right);
      if (a.act == action::permit || a.act == action::block) return {true, a.act, a.clear_action_right, true};
      if (f.act == action::callout_terminating)  // anything else counts as block
        return {true, action::block, a.clear_action_right, true};
      return {};
    }
    case action::none:
      return {};
  }
  return {};
}

/// One sublayer's decision meets the layer's state (rights, hard/soft, veto).
constexpr void arbitrate(layer_result& r, bool& write_right, const filter_outcome& o, int filter,
                         int sublayer) {
  if (write_right) {
    r.act = o.act;
    r.filter = static_cast<std::int16_t>(filter);
    r.sublayer = static_cast<std::int16_t>(sublayer);
    if (o.hard) {
      write_right = false;
      r.hard = true;
    }
  } else if (o.from_callout && o.act == action::block && r.act == action::permit) {
    r.act = action::block;  // veto: a callout's block beats a hard permit
    r.filter = static_cast<std::int16_t>(filter);
    r.sublayer = static_cast<std::int16_t>(sublayer);
    r.veto = true;
  }
}

/// The layer's verdict: its decision, or the policy's default when it has filters and none decided.
constexpr action layer_verdict(const layer_result& r, bool layer_has_filters, action default_action) {
  if (r.decided()) return r.act;
  return layer_has_filters ? default_action : action::permit;
}

/// Whether a filter's conditions hold: consecutive conditions on one field are ORed, the groups ANDed.
template <Policy P>
constexpr bool matches(const P& p, const filter_value& f, const incoming_values& v) {
  const auto conds = p.conditions_of(f);
  std::size_t i = 0;
  while (i < conds.size()) {
    bool group = false;
    const field_id fld = conds[i].field;
    for (; i < conds.size() && conds[i].field == fld; ++i) group = group || test(conds[i], v);
    if (!group) return false;
  }
  return true;
}

struct ignore_matches {
  constexpr void operator()(int) const {}
};

/// The generic (interpreted) evaluation of one layer: loops over the policy's tables. Constexpr, so
/// it proves verdicts in static_assert; also the reference the compiled pipeline is tested against.
/// `on_match(filter_index)` is told of every matching filter when `all_matches` is set.
template <Policy P, class OnMatch = ignore_matches>
constexpr layer_result evaluate_layer(const P& p, layer_id layer, const incoming_values& v,
                                      OnMatch on_match = {}, bool all_matches = false) {
  layer_result r;
  bool write = true;
  int current = -1;
  bool sublayer_done = false;
  for (const std::uint16_t fi : p.evaluation_order(layer)) {
    const filter_value& f = p.filters[fi];
    if (f.sublayer_index != current) {
      current = f.sublayer_index;
      sublayer_done = false;
    }
    if (sublayer_done && !all_matches) continue;
    if (!matches(p, f, v)) continue;
    on_match(fi);
    if (sublayer_done) continue;
    const filter_outcome o = outcome(f, v, write);
    if (o.decides) {
      arbitrate(r, write, o, fi, f.sublayer_index);
      sublayer_done = true;
    }
  }
  return r;
}

}  // namespace strata
