// Contenders on strata's engine with the small policies: the parse-only floor (empty policy), strata with
// 10 and 100 filters, the hand-written classifier of the 100-filter policy, the run-time (vector) engine
// with 10 and 100 filters, and the stateless block lists s10/s100 (engine, and pipeline-only one frame at
// a time or batched).
#include <cstdio>

#include "bench_hand100.hpp"
#include "bench_policy_p10.hpp"
#include "bench_policy_p100.hpp"
#include "bench_policy_s10.hpp"
#include "bench_policy_s100.hpp"
#include "common.hpp"
#include "runtime_engine.hpp"

namespace bench {

inline constexpr auto empty_policy = strata::policy();

// Copies of the policies: strata::compiled is specialized for them below, so that the engine (the same
// flow handling, the same records) calls the hand-written or run-time classifier instead of strata's.
inline constexpr auto hand_p100 = generated::p100;
inline constexpr auto runtime_p10 = generated::p10;
inline constexpr auto runtime_p100 = generated::p100;
inline const runtime_engine runtime10{bench_rules::p10};
inline const runtime_engine runtime100{bench_rules::p100};

namespace hand {

using strata::action;
using strata::layer_id;
using strata::path_kind;

// One layer's decision meets the path (traversal.md §7): a decision is recorded; a block ends the path.
inline bool apply(strata::path_result& res, layer_id l, hand100::layer_decision d) {
  if (d.act == action::none) return true;
  res.filter = d.filter;
  res.sublayer = d.sublayer;
  res.layer = l;
  res.hard = d.act == action::block;
  if (d.act != action::block) return true;
  res.verdict = action::block;
  return false;
}
// A stack discard (nobody listening): dropped; the policy has no filter at the discard layers.
inline bool discard(strata::path_result& res, layer_id l) {
  res.verdict = action::block;
  res.stack_discard = true;
  res.layer = l;
  res.filter = -1;
  return false;
}

/// The hand-written classifier of p100: which layers each path visits, written out for this policy
/// (it has filters at six IPv4 layers and nowhere else), with the generated per-layer if/else chains.
inline strata::path_result classify(strata::path_key key, const strata::incoming_values& v) {
  strata::path_result res;
  if (key.fam != strata::family::v4) {  // no IPv6 filter: only the stack discards remain
    if (key.kind == path_kind::tcp_inbound_syn_no_listener)
      discard(res, layer_id::inbound_transport_v6_discard);
    else if (key.kind == path_kind::datagram_inbound_no_listener)
      discard(res, layer_id::inbound_ippacket_v6_discard);
    return res;
  }
  const auto in_ip = [&] {
    return apply(res, layer_id::inbound_ippacket_v4, hand100::inbound_ippacket_v4(v));
  };
  const auto in_tr = [&] {
    return apply(res, layer_id::inbound_transport_v4, hand100::inbound_transport_v4(v));
  };
  const auto out_tr = [&] {
    return apply(res, layer_id::outbound_transport_v4, hand100::outbound_transport_v4(v));
  };
  const auto out_ip = [&] {
    return apply(res, layer_id::outbound_ippacket_v4, hand100::outbound_ippacket_v4(v));
  };
  const auto accept = [&] {
    return apply(res, layer_id::ale_auth_recv_accept_v4, hand100::ale_auth_recv_accept_v4(v));
  };
  const auto connect = [&] {
    return apply(res, layer_id::ale_auth_connect_v4, hand100::ale_auth_connect_v4(v));
  };
  // A reassembled datagram visits INBOUND_IPPACKET twice more with the same values: the same decision.
  switch (key.kind) {
    case path_kind::tcp_inbound_segment:
    case path_kind::tcp_inbound_data:
    case path_kind::tcp_inbound_syn_ack:
    case path_kind::tcp_inbound_final_ack:
    case path_kind::tcp_inbound_final_ack_payload:
    case path_kind::datagram_inbound:
    case path_kind::icmp_error_inbound:
      (void)(in_ip() && in_tr());
      break;
    case path_kind::tcp_outbound_segment:
    case path_kind::tcp_outbound_data:
    case path_kind::tcp_outbound_syn_ack:
    case path_kind::tcp_outbound_final_ack:
    case path_kind::tcp_outbound_final_ack_payload:
    case path_kind::datagram_outbound:
    case path_kind::icmp_error_outbound:
      (void)(out_tr() && out_ip());
      break;
    case path_kind::tcp_inbound_syn:
    case path_kind::tcp_inbound_reauthorize:
    case path_kind::tcp_inbound_reauthorize_payload:
    case path_kind::datagram_inbound_first:
    case path_kind::datagram_inbound_reauthorize:
      (void)(in_ip() && in_tr() && accept());
      break;
    case path_kind::tcp_inbound_reauthorize_connect:
    case path_kind::tcp_inbound_reauthorize_connect_payload:
    case path_kind::datagram_inbound_reauthorize_connect:
      (void)(in_ip() && in_tr() && connect());
      break;
    case path_kind::tcp_active_open:
    case path_kind::tcp_outbound_reauthorize:
    case path_kind::tcp_outbound_reauthorize_payload:
    case path_kind::datagram_outbound_first_bind:
    case path_kind::datagram_outbound_first:
    case path_kind::datagram_outbound_reauthorize:
      (void)(connect() && out_tr() && out_ip());
      break;
    case path_kind::tcp_outbound_reauthorize_accept:
    case path_kind::tcp_outbound_reauthorize_accept_payload:
    case path_kind::datagram_outbound_reauthorize_accept:
      (void)(accept() && out_tr() && out_ip());
      break;
    case path_kind::tcp_inbound_syn_no_listener:
      (void)(in_ip() && discard(res, layer_id::inbound_transport_v4_discard));
      break;
    case path_kind::datagram_inbound_no_listener:
      (void)(in_ip() && discard(res, layer_id::inbound_ippacket_v4_discard));
      break;
    case path_kind::inbound_fragment:
      (void)in_ip();
      break;
    case path_kind::mac_inbound:  // no MAC-frame filter
    case path_kind::mac_outbound:
    case path_kind::tcp_passive_open:
    case path_kind::forward:
    case path_kind::forward_fragment:
      break;
  }
  return res;
}

}  // namespace hand
}  // namespace bench

template <>
struct strata::compiled<bench::hand_p100> : bench::pipelines_of_classify<strata::compiled<bench::hand_p100>> {
  template <class Trace = no_trace>
  static path_result classify(path_key key, const incoming_values& v, Trace&) {
    return bench::hand::classify(key, v);
  }
  static path_result classify(path_key key, const incoming_values& v) {
    return bench::hand::classify(key, v);
  }
  template <layer_id L>  // what the engine asks (MAC-frame layers): this policy has no filter there
  static constexpr bool has_filters = generated::p100.has_filters_at(L);
};
BENCH_RUNTIME_CLASSIFIER(bench::runtime_p10, bench::runtime10);
BENCH_RUNTIME_CLASSIFIER(bench::runtime_p100, bench::runtime100);

namespace bench {

template <class C>
static contender_info make(std::string name, std::string group) {
  return {std::move(name), std::move(group), [](const workload& w) { return std::make_unique<C>(w); }};
}

std::vector<contender_info> small_contenders() {
  return {
      make<engine_contender<empty_policy>>("floor", "engine"),
      make<engine_batch_contender<empty_policy>>("floor-batch", "engine"),
      make<engine_contender<generated::p10>>("strata-10", "engine"),
      make<engine_contender<generated::p100>>("strata-100", "engine"),
      make<engine_contender<hand_p100>>("hand-100", "engine"),
      make<engine_contender<runtime_p10>>("runtime-10", "engine"),
      make<engine_contender<runtime_p100>>("runtime-100", "engine"),
      make<engine_contender<generated::s10>>("strata-s10", "stateless"),
      make<engine_contender<generated::s100>>("strata-s100", "stateless"),
      make<engine_batch_contender<generated::s100>>("strata-s100-batch", "stateless"),
      make<stateless_contender<generated::s10>>("strata-s10-pipeline", "stateless"),
      make<stateless_contender<generated::s100>>("strata-s100-pipeline", "stateless"),
      make<stateless_batch_contender<generated::s10>>("strata-s10-pipeline-batch", "stateless"),
      make<stateless_batch_contender<generated::s100>>("strata-s100-pipeline-batch", "stateless"),
  };
}

static void describe(const char* who, strata::path_key k, const strata::path_result& a,
                     const strata::path_result& b) {
  std::fprintf(stderr,
               "check: %s differs on %s/%s%s: strata verdict %d filter %d layer %d, %s verdict %d filter %d "
               "layer %d\n",
               who, std::string(strata::name(k.kind)).c_str(), k.fam == strata::family::v4 ? "v4" : "v6",
               k.reassembled ? "/reassembled" : "", static_cast<int>(a.verdict), a.filter,
               static_cast<int>(a.layer), who, static_cast<int>(b.verdict), b.filter,
               static_cast<int>(b.layer));
}

std::size_t check_p100(const workload& w, std::size_t sample_every) {
  std::size_t bad = 0, n = 0;
  for (const segment& s : w.segs) {
    for (const strata::io::frame& f : s.frames) {
      if (n++ % sample_every != 0) continue;
      const auto p = strata::packet::parse(f.data, s.link, f.wire_length);
      if (!p.ok()) continue;
      for (const bool inbound : {true, false}) {
        const strata::incoming_values v = values_of(p, inbound);
        for (const strata::path_key k : strata::all_path_keys) {
          const auto a = strata::compiled<generated::p100>::classify(k, v);
          const auto h = hand::classify(k, v);
          const auto r = runtime100.classify(k, v);
          if (!(a == h)) {
            if (bad < 5) describe("hand-100", k, a, h);
            ++bad;
          }
          if (!(a == r)) {
            if (bad < 5) describe("runtime-100", k, a, r);
            ++bad;
          }
          if (!(strata::compiled<generated::p10>::classify(k, v) == runtime10.classify(k, v))) {
            if (bad < 5)
              describe("runtime-10", k, strata::compiled<generated::p10>::classify(k, v),
                       runtime10.classify(k, v));
            ++bad;
          }
        }
      }
    }
  }
  return bad;
}

std::vector<stateless_outcome> outcomes_s10(const workload& w) {
  return stateless_outcomes<generated::s10>(w);
}
std::vector<stateless_outcome> outcomes_s100(const workload& w) {
  return stateless_outcomes<generated::s100>(w);
}
std::vector<stateless_outcome> library_outcomes_s10(const workload& w, bool batched) {
  return library_outcomes<generated::s10>(w, batched);
}
std::vector<stateless_outcome> library_outcomes_s100(const workload& w, bool batched) {
  return library_outcomes<generated::s100>(w, batched);
}

}  // namespace bench
