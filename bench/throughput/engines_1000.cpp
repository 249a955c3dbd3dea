// Contenders with the 1000-filter policy: strata's engine, the run-time (vector) engine in the same
// engine, and strata's compiled pipeline as a stateless classifier (the counterpart of rte_acl).
#include <cstdio>

#include "bench_policy_p1000.hpp"
#include "common.hpp"
#include "runtime_engine.hpp"

namespace bench {
inline constexpr auto runtime_p1000 = generated::p1000;
inline const runtime_engine runtime1000{bench_rules::p1000};
}  // namespace bench

BENCH_RUNTIME_CLASSIFIER(bench::runtime_p1000, bench::runtime1000);

namespace bench {

template <class C>
static contender_info make(std::string name, std::string group) {
  return {std::move(name), std::move(group), [](const workload& w) { return std::make_unique<C>(w); }};
}

std::vector<contender_info> large_contenders() {
  return {
      make<engine_contender<generated::p1000>>("strata-1000", "engine"),
      make<engine_contender<runtime_p1000>>("runtime-1000", "engine"),
      make<stateless_contender<generated::p1000>>("strata-1000-pipeline", "acl"),
      make<stateless_batch_contender<generated::p1000>>("strata-1000-pipeline-batch", "acl"),
  };
}

std::size_t check_p1000(const workload& w, std::size_t sample_every) {
  std::size_t bad = 0, n = 0;
  for (const segment& s : w.segs) {
    for (const strata::io::frame& f : s.frames) {
      if (n++ % sample_every != 0) continue;
      const auto p = strata::packet::parse(f.data, s.link, f.wire_length);
      if (!p.ok()) continue;
      for (const bool inbound : {true, false}) {
        const strata::incoming_values v = values_of(p, inbound);
        for (const strata::path_key k : strata::all_path_keys) {
          if (!(strata::compiled<generated::p1000>::classify(k, v) == runtime1000.classify(k, v))) {
            if (bad < 5)
              std::fprintf(stderr, "check: runtime-1000 differs on %s\n",
                           std::string(strata::name(k.kind)).c_str());
            ++bad;
          }
        }
      }
    }
  }
  return bad;
}

std::vector<stateless_outcome> outcomes_p1000(const workload& w) {
  return stateless_outcomes<generated::p1000>(w);
}

std::vector<stateless_outcome> library_outcomes_p1000(const workload& w, bool batched) {
  return library_outcomes<generated::p1000>(w, batched);
}

}  // namespace bench
