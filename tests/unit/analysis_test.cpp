// Policy analysis (strata/analysis.hpp) against brute force: random policies over a small field domain,
// every packet enumerated, the truth computed with the generic evaluator (arbitration.hpp's matches and
// evaluate_layer); plus the purpose-built examples (examples/analysis_examples.hpp) and static_asserts.
#include <array>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <strata/analysis.hpp>

#include "../../examples/analysis_examples.hpp"

using namespace strata;

namespace {

// ---- compile time: the examples' findings ---------------------------------------------------------------

namespace ex = analysis_examples;
static_assert(analyze(ex::shadowed).has(anomaly::shadowed, "web-again"));
static_assert(analyze(ex::shadowed).count(anomaly::shadowed) == 1);
static_assert(analyze(ex::redundant).has(anomaly::redundant, "lan-soft"));
static_assert(analyze(ex::redundant).count(anomaly::shadowed) == 0);
static_assert(analyze(ex::overridden_permit).has(anomaly::overridden, "app-permit"));
static_assert(analyze(ex::overridden_block).has(anomaly::overridden, "block-ssh-from-guests"));
static_assert(analyze(ex::generalisation).has(anomaly::generalisation, "deny-lan"));
static_assert(analyze(ex::correlation).has(anomaly::correlation, "block-high-ports"));
static_assert(analyze(ex::clean).clean() && analyze(ex::clean).count(anomaly::redundant) == 0);
static_assert(strict<ex::clean>);
static_assert(diff(ex::clean, ex::clean).empty());
static_assert(diff(ex::shadowed, ex::clean).changes(layer_id::ale_auth_recv_accept_v4));

// ---- the brute-force domain -----------------------------------------------------------------------------
// Every constant of a generated condition lies in this domain; the extra values stand for everything
// outside it (port 8 for 8..65535, 9.255.255.255 and 10.0.0.8 for the addresses below and above the /29,
// protocol 0 for every other protocol, "" for every other string), so that the enumeration is exhaustive.

constexpr layer_id L = layer_id::ale_auth_recv_accept_v4;
constexpr layer_id elsewhere = layer_id::outbound_transport_v4;
constexpr std::uint32_t net = 0x0a000000;  // 10.0.0.0/29
const std::array<std::uint8_t, 3> protos{6, 17, 0};
const std::array<std::uint32_t, 4> flag_values{0, 0x1, 0x20, 0x21};
const std::array<std::string_view, 3> apps{"a", "b", ""};
constexpr int ports = 9;
const std::array<std::uint32_t, 10> addrs{net + 0, net + 1, net + 2, net + 3, net + 4,
                                          net + 5, net + 6, net + 7, net - 1, net + 8};

std::vector<incoming_values> all_packets() {
  std::vector<incoming_values> out;
  for (auto pr : protos)
    for (int port = 0; port < ports; ++port)
      for (auto a : addrs)
        for (auto fl : flag_values)
          for (auto app : apps) {
            incoming_values v{};
            v.ip_protocol = pr;
            v.local_port = static_cast<std::uint16_t>(port);
            v.remote_address = address::from_v4(a);
            v.flags = fl;
            v.app_id = app;
            out.push_back(v);
          }
  return out;
}

constexpr std::array<std::string_view, 24> names{"f0",  "f1",  "f2",  "f3",  "f4",  "f5",  "f6",  "f7",
                                                 "f8",  "f9",  "f10", "f11", "f12", "f13", "f14", "f15",
                                                 "f16", "f17", "f18", "f19", "f20", "f21", "f22", "f23"};
constexpr std::array<sublayer, 3> subs{sublayer{"high", 0xc000}, sublayer{"mid", 0x8000},
                                       sublayer{"low", 0x1000}};

condition_value random_condition(std::mt19937& rng, int field) {
  auto r = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  switch (field) {
    case 0: {  // protocol
      const int k = r(3);
      if (k == 0) return (ip_protocol == proto::tcp).alternatives[0];
      if (k == 1) return (ip_protocol == proto::udp).alternatives[0];
      return (ip_protocol != proto::tcp).alternatives[0];
    }
    case 1: {  // local port 0..7
      const int a = r(8), b = r(8);
      switch (r(7)) {
        case 0:
          return (local_port == a).alternatives[0];
        case 1:
          return (local_port != a).alternatives[0];
        case 2:
          return (local_port == range(std::min(a, b), std::max(a, b))).alternatives[0];
        case 3:
          return (local_port > a).alternatives[0];
        case 4:
          return (local_port < a).alternatives[0];
        case 5:
          return (local_port >= a).alternatives[0];
        default:
          return (local_port <= a).alternatives[0];
      }
    }
    case 2: {  // remote address within 10.0.0.0/29
      const int len = 29 + r(4);
      const std::uint32_t base = net + (static_cast<std::uint32_t>(r(8)) & ~((1u << (32 - len)) - 1));
      const prefix p{address::from_v4(base), static_cast<std::uint8_t>(len), family::v4};
      const int k = r(4);
      if (k == 0) return (remote_address != p).alternatives[0];
      if (k == 1) {
        const std::uint32_t a = net + static_cast<std::uint32_t>(r(8)),
                            b = net + static_cast<std::uint32_t>(r(8));
        const prefix lo{address::from_v4(std::min(a, b)), 32, family::v4},
            hi{address::from_v4(std::max(a, b)), 32, family::v4};
        return (remote_address == range(lo, hi)).alternatives[0];
      }
      return (remote_address == p).alternatives[0];
    }
    case 3: {  // flags
      switch (r(4)) {
        case 0:
          return flags.all_set(0x1u).alternatives[0];
        case 1:
          return flags.none_set(0x20u).alternatives[0];
        case 2:
          return flags.any_set(0x21u).alternatives[0];
        default:
          return flags.all_set(0x21u).alternatives[0];
      }
    }
    default:  // application
      return r(2) ? (ale_app_id == std::string_view("a")).alternatives[0]
                  : condition_value{
                        field_id::ale_app_id, match_type::not_equal, family::none, {}, {}, {}, "b"};
  }
}

template <std::size_t N>
using test_policy = policy_value<N, 4 * N>;

template <std::size_t N>
test_policy<N> random_policy(std::mt19937& rng) {
  auto r = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  test_policy<N> p;
  const int nsub = 2 + r(2);
  p.sublayer_count = static_cast<std::size_t>(nsub);
  for (int s = 0; s < nsub; ++s) p.sublayers[static_cast<std::size_t>(s)] = subs[static_cast<std::size_t>(s)];
  p.default_action = r(4) == 0 ? action::block : action::permit;
  std::size_t next = 0;
  for (std::size_t i = 0; i < N; ++i) {
    filter_value& f = p.filters[i];
    f.name = names[i];
    f.layer = L;
    f.sub = subs[static_cast<std::size_t>(r(nsub))];
    f.effective_weight = static_cast<std::uint64_t>(r(6));  // ties: declaration order
    const int a = r(10);
    f.act = a < 4 ? action::permit
                  : (a < 8 ? action::block : (a < 9 ? action::continue_ : action::callout_terminating));
    if (f.act == action::permit && r(3) == 0) f.flags = clear_action_right;
    if (f.act == action::callout_terminating && r(2)) f.flags = permit_if_callout_unregistered;
    f.first_condition = static_cast<std::uint16_t>(next);
    f.declaration = static_cast<std::uint16_t>(i);
    // up to 3 distinct fields; some with an OR of two alternatives
    const int nfields = r(4);
    std::array<int, 5> order{0, 1, 2, 3, 4};
    std::shuffle(order.begin(), order.end(), rng);
    std::uint16_t count = 0;
    for (int k = 0; k < nfields; ++k) {
      const int alts = (order[static_cast<std::size_t>(k)] <= 2 && r(3) == 0) ? 2 : 1;
      for (int al = 0; al < alts; ++al) {
        p.conditions[next++] = random_condition(rng, order[static_cast<std::size_t>(k)]);
        ++count;
      }
    }
    f.condition_count = count;
  }
  detail::compute_order(p);
  return p;
}

/// Truth by enumeration.
template <class P>
action verdict(const P& p, const incoming_values& v) {
  return layer_verdict(evaluate_layer(p, L, v), p.has_filters_at(L), p.default_action);
}

template <class P>
P without(const P& p, std::size_t i) {
  P q = p;
  q.filters[i].layer = elsewhere;
  detail::compute_order(q);
  return q;
}

struct tally {
  std::size_t policies = 0, filters = 0;
  std::size_t shadowed = 0, redundant = 0, overridden = 0, diff_packets = 0, diff_changed = 0;
  std::size_t disagreements = 0;
};

template <std::size_t N>
void trial(std::mt19937& rng, const std::vector<incoming_values>& packets, tally& t) {
  const auto p = random_policy<N>(rng);
  const policy_report rep = analyze(p);
  ASSERT_EQ(rep.inconclusive, 0u);
  ++t.policies;
  std::vector<action> base(packets.size());
  for (std::size_t k = 0; k < packets.size(); ++k) base[k] = verdict(p, packets[k]);
  const auto order = p.evaluation_order(L);
  for (std::size_t oi = 0; oi < order.size(); ++oi) {
    const std::size_t fi = order[oi];
    const filter_value& f = p.filters[fi];
    ++t.filters;
    bool shadowed = true, decides_somewhere = false, always_opposite = true, redundant = true;
    const auto q = without(p, fi);
    const bool is_static =
        f.act == action::permit || f.act == action::block || f.act == action::callout_terminating;
    const action own = f.act == action::callout_terminating
                           ? (f.flags.has(permit_if_callout_unregistered) ? action::permit : action::block)
                           : f.act;
    for (std::size_t k = 0; k < packets.size(); ++k) {
      const incoming_values& v = packets[k];
      if (verdict(q, v) != base[k]) redundant = false;
      if (!matches(p, f, v)) continue;
      bool decided_before = false;
      for (std::size_t oj = 0; oj < oi; ++oj) {
        const filter_value& g = p.filters[order[oj]];
        if (g.sublayer_index == f.sublayer_index && g.act != action::continue_ && matches(p, g, v))
          decided_before = true;
      }
      if (!decided_before) {
        shadowed = false;
        if (is_static) {
          decides_somewhere = true;
          if (base[k] == own) always_opposite = false;
        }
      }
    }
    const bool overridden = is_static && decides_somewhere && always_opposite;
    const bool a_sh = rep.has(anomaly::shadowed, f.name), a_rd = rep.has(anomaly::redundant, f.name),
               a_ov = rep.has(anomaly::overridden, f.name);
    t.shadowed += shadowed;
    t.redundant += redundant;
    t.overridden += overridden;
    if (a_sh != shadowed || a_rd != redundant || a_ov != overridden) {
      ++t.disagreements;
      ADD_FAILURE() << "filter " << f.name << ": shadowed " << shadowed << "/" << a_sh << ", redundant "
                    << redundant << "/" << a_rd << ", overridden " << overridden << "/" << a_ov << "\n"
                    << analysis_text(rep);
    }
  }
  // Diff against a mutation (one filter's action flipped, or one filter moved away) and a fresh policy.
  for (int m = 0; m < 2; ++m) {
    test_policy<N> b = m == 0 ? p : random_policy<N>(rng);
    if (m == 0) {
      const std::size_t i = rng() % N;
      if (rng() % 2)
        b.filters[i].act = b.filters[i].act == action::permit ? action::block : action::permit;
      else
        b.filters[i].layer = elsewhere;
      detail::compute_order(b);
    }
    const policy_diff d = diff(p, b);
    for (std::size_t k = 0; k < packets.size(); ++k) {
      const bool changed = verdict(b, packets[k]) != base[k];
      ++t.diff_packets;
      t.diff_changed += changed;
      if (d.affects(L, packets[k]) != changed) {
        ++t.disagreements;
        ADD_FAILURE() << "diff disagrees on a packet: truth " << changed << "\n" << diff_text(d);
        break;
      }
    }
  }
}

TEST(Analysis, AgreesWithBruteForceOnRandomPolicies) {
  const auto packets = all_packets();
  std::mt19937 rng(20240607);
  tally t;
  for (int i = 0; i < 60; ++i) {
    trial<5>(rng, packets, t);
    trial<8>(rng, packets, t);
    trial<12>(rng, packets, t);
    trial<20>(rng, packets, t);
    if (t.disagreements > 3) break;
  }
  EXPECT_EQ(t.disagreements, 0u);
  std::printf(
      "brute force: %zu policies, %zu filters, %zu packets each; truth: %zu shadowed, %zu redundant, "
      "%zu overridden; diff: %zu of %zu packet verdicts changed; disagreements: %zu\n",
      t.policies, t.filters, packets.size(), t.shadowed, t.redundant, t.overridden, t.diff_changed,
      t.diff_packets, t.disagreements);
}

// ---- the examples at run time: witnesses show the finding -------------------------------------------------

TEST(Analysis, ExampleWitnessesShowTheFinding) {
  {
    const auto r = analyze(ex::shadowed);
    for (const auto& f : r.findings)
      if (f.kind == anomaly::shadowed) {
        ASSERT_TRUE(f.has_witness);
        const auto res = evaluate_layer(ex::shadowed, f.layer, f.witness);
        EXPECT_NE(res.filter, f.index);
        EXPECT_TRUE(
            matches(ex::shadowed, ex::shadowed.filters[static_cast<std::size_t>(f.index)], f.witness));
      }
  }
  const auto check_override = [](const auto& p) {
    const auto r = analyze(p);
    bool seen = false;
    for (const auto& f : r.findings)
      if (f.kind == anomaly::overridden) {
        seen = true;
        ASSERT_TRUE(f.has_witness);
        const auto res = evaluate_layer(p, f.layer, f.witness);
        EXPECT_EQ(res.act, f.verdict);
        EXPECT_NE(res.act, p.filters[static_cast<std::size_t>(f.index)].act);
      }
    EXPECT_TRUE(seen);
  };
  check_override(ex::overridden_permit);
  check_override(ex::overridden_block);
}

TEST(Analysis, TextAndJson) {
  const auto r = analyze(ex::shadowed);
  const std::string text = analysis_text(r), json = analysis_json(r);
  EXPECT_NE(text.find("shadowed"), std::string::npos) << text;
  EXPECT_NE(text.find("\"web-again\""), std::string::npos) << text;
  EXPECT_NE(text.find("witness: ip_protocol=6 ip_local_port=80"), std::string::npos) << text;
  EXPECT_NE(json.find("\"kind\":\"shadowed\",\"layer\":\"ALE_AUTH_RECV_ACCEPT_V4\",\"filter\":\"web-again\""),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"witness\":{\"ip_protocol\":6,\"ip_local_port\":80}"), std::string::npos) << json;
}

TEST(Analysis, InexactConditionsAreNeverReportedWrongly) {
  // A suffix match on the application is over-approximated: a filter after it is not claimed shadowed.
  static constexpr auto p = policy(
      filter<"chrome", layer::ale_auth_connect_v4>(weight(9), action::block, ale_app_id.prefix("chrome.exe")),
      filter<"web", layer::ale_auth_connect_v4>(weight(5), action::permit, remote_port == 443),
      filter<"chrome-web", layer::ale_auth_connect_v4>(weight(1), action::permit, remote_port == 443,
                                                       ale_app_id.prefix("chrome.exe")));
  constexpr auto r = [] { return analyze(p).count(anomaly::shadowed); }();
  static_assert(r == 1);  // chrome-web is shadowed by web (exactly covered), nothing else
  static_assert(analyze(p).has(anomaly::shadowed, "chrome-web"));
  static_assert(!analyze(p).has(anomaly::shadowed, "web"));
}

TEST(Analysis, DiffAffectsOnlyChangedFlows) {
  static constexpr auto before =
      policy(filter<"web", layer::ale_auth_recv_accept_v4>(action::permit, ip_protocol == proto::tcp,
                                                           local_port == 80),
             filter<"deny", layer::ale_auth_recv_accept_v4>(weight(0), action::block));
  static constexpr auto after =
      policy(filter<"web", layer::ale_auth_recv_accept_v4>(action::permit, ip_protocol == proto::tcp,
                                                           local_port == 80 || local_port == 443),
             filter<"deny", layer::ale_auth_recv_accept_v4>(weight(0), action::block));
  const auto d = diff(before, after);
  incoming_values v{};
  v.ip_protocol = proto::tcp;
  v.local_port = 443;
  EXPECT_TRUE(d.affects(layer_id::ale_auth_recv_accept_v4, v));
  v.local_port = 80;
  EXPECT_FALSE(d.affects(layer_id::ale_auth_recv_accept_v4, v));
  v.local_port = 443;
  v.ip_protocol = proto::udp;
  EXPECT_FALSE(d.affects(layer_id::ale_auth_recv_accept_v4, v));
  EXPECT_FALSE(d.affects(layer_id::ale_auth_connect_v4, v));
  EXPECT_EQ(d.layers.size(), 1u);
  EXPECT_NE(diff_text(d).find("block -> permit"), std::string::npos) << diff_text(d);
}

}  // namespace
