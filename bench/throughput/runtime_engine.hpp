// The straightforward run-time engine: what a user would write without strata. The filters are data
// (bench_rules.hpp, the same policies as plain rule lists), held in a std::vector per layer, sorted once
// in WFP's evaluation order, and evaluated in a loop with a switch per condition. The traversal (which
// layers a path visits, and what a layer's decision does to the path) is strata's own model, shared
// with the compiled pipeline: only the filter evaluation differs.
//
// It plugs into strata's engine through a specialization of strata::compiled for a copy of the policy
// (bench::runtime_classifier below), so the flow handling is the very same code.
#pragma once

#include <algorithm>
#include <array>
#include <span>
#include <vector>

#include <strata/pipeline.hpp>

#include "bench_rules.hpp"

namespace bench {

class runtime_engine {
 public:
  explicit runtime_engine(std::span<const bench_rules::rule> rules) {
    std::vector<std::uint16_t> weights;
    for (const auto& r : rules)
      if (std::find(weights.begin(), weights.end(), r.sublayer_weight) == weights.end())
        weights.push_back(r.sublayer_weight);
    std::sort(weights.begin(), weights.end(), std::greater<>());
    for (const auto& r : rules) {
      filter f;
      f.sublayer_weight = r.sublayer_weight;
      f.weight = r.weight;
      f.act = r.act;
      f.index = static_cast<std::int16_t>(r.index);
      f.sublayer = static_cast<std::int16_t>(std::find(weights.begin(), weights.end(), r.sublayer_weight) -
                                             weights.begin());
      for (std::size_t i = 0; i < r.ncond; ++i) f.conds.push_back(r.conds[i]);
      layers_[static_cast<std::size_t>(r.layer)].push_back(std::move(f));
    }
    for (auto& fs : layers_)
      std::sort(fs.begin(), fs.end(), [](const filter& a, const filter& b) {
        if (a.sublayer_weight != b.sublayer_weight) return a.sublayer_weight > b.sublayer_weight;
        if (a.weight != b.weight) return a.weight > b.weight;
        return a.index < b.index;
      });
    for (const strata::path_key k : strata::all_path_keys)
      paths_[strata::detail::fast_index(k)] = strata::steps_of(k);
  }

  strata::path_result classify(strata::path_key key, const strata::incoming_values& v) const {
    strata::path_result res;
    for (const strata::step& s : paths_[strata::detail::fast_index(key)]) {
      const auto& fs = layers_[static_cast<std::size_t>(s.layer)];
      const strata::layer_result r = evaluate(fs, v);
      const auto next = strata::detail::conclude_step(res, s.layer, r, !fs.empty(), strata::action::permit);
      if (next != strata::detail::after_step::next) break;
    }
    return res;
  }

 private:
  struct filter {
    std::uint16_t sublayer_weight = 0;
    std::uint64_t weight = 0;
    strata::action act = strata::action::permit;
    std::int16_t index = -1;
    std::int16_t sublayer = -1;
    std::vector<bench_rules::cond> conds;
  };

  static bool test(const bench_rules::cond& c, const strata::incoming_values& v) {
    switch (c.kind) {
      case bench_rules::port_eq:
        return v.local_port == c.a;
      case bench_rules::port_range:
        return c.a <= v.local_port && v.local_port <= c.b;
      case bench_rules::raddr24:
        return (static_cast<std::uint32_t>(v.remote_address.lo) & 0xffffff00u) == c.a;
      case bench_rules::laddr:
        return static_cast<std::uint32_t>(v.local_address.lo) == c.a;
      case bench_rules::proto:
        return v.ip_protocol == c.a;
    }
    return false;
  }

  // First match per sublayer; a block is hard (final), a permit soft (a lower sublayer may override).
  static strata::layer_result evaluate(const std::vector<filter>& fs, const strata::incoming_values& v) {
    strata::layer_result r;
    int done_sublayer = -1;
    for (const filter& f : fs) {
      if (f.sublayer == done_sublayer) continue;
      bool match = true;
      for (const auto& c : f.conds)
        if (!test(c, v)) {
          match = false;
          break;
        }
      if (!match) continue;
      r.act = f.act;
      r.filter = f.index;
      r.sublayer = f.sublayer;
      if (f.act == strata::action::block) {
        r.hard = true;
        return r;
      }
      done_sublayer = f.sublayer;
    }
    return r;
  }

  std::array<std::vector<filter>, strata::layer_count> layers_{};
  std::array<strata::step_list, strata::all_path_keys.size()> paths_{};
};

}  // namespace bench

namespace bench {

/// What the engine asks a compiled<P> for besides classify: its table of pipelines, one per path key at
/// detail::fast_index(key) (compiled<P>::pipelines<Trace>()). For a classifier that only has
/// `C::classify(key, values)` (the hand-written and run-time contenders), each entry calls it.
template <class C>
struct pipelines_of_classify {
  template <class Trace, std::size_t I>
  static void run_into(const strata::incoming_values& v, Trace&, strata::path_result& out) {
    out = C::classify(strata::all_path_keys[I], v);
  }
  template <class Trace, std::size_t... I>
  static constexpr auto make_table(std::index_sequence<I...>) {
    return std::array<void (*)(const strata::incoming_values&, Trace&, strata::path_result&), sizeof...(I)>{
        &run_into<Trace, I>...};
  }
  template <class Trace>
  static constexpr auto table = make_table<Trace>(std::make_index_sequence<strata::all_path_keys.size()>{});
  template <class Trace = strata::no_trace>
  static constexpr const auto& pipelines() {
    return table<Trace>;
  }
};

}  // namespace bench

/// A classifier type for strata::compiled<...> specializations: `engine` is a function returning the
/// runtime_engine instance.
#define BENCH_RUNTIME_CLASSIFIER(POLICY_COPY, ENGINE)                                                  \
  template <>                                                                                          \
  struct strata::compiled<POLICY_COPY> : bench::pipelines_of_classify<strata::compiled<POLICY_COPY>> { \
    template <class Trace = no_trace>                                                                  \
    static path_result classify(path_key key, const incoming_values& v, Trace&) {                      \
      return (ENGINE).classify(key, v);                                                                \
    }                                                                                                  \
    static path_result classify(path_key key, const incoming_values& v) {                              \
      return (ENGINE).classify(key, v);                                                                \
    }                                                                                                  \
    template <layer_id L>                                                                              \
    static constexpr bool has_filters = POLICY_COPY.has_filters_at(L);                                 \
  }
