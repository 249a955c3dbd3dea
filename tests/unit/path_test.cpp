// Paths per ../shared/spec/traversal.md §4–8: every path kind's layer sequence (V4 and V6) against the spec's
// tables, written out here from the spec text; fragments (§5), forwarding (§6), blocking (§7) and
// reauthorization (§8) run through compiled pipelines with a trace; and a randomized cross-check of the
// compiled pipelines against the generic evaluator on hand-written policies.
#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <strata/strata.hpp>

namespace {

using namespace strata::literals;
using strata::action;
using strata::callout_answer;
using strata::family;
using strata::incoming_values;
using strata::layer_id;
using strata::path_key;
using strata::path_kind;
using strata::sublayer;
namespace layer = strata::layer;
namespace path = strata::path;
namespace flag = strata::flag;
using strata::filter;
using strata::policy;
using strata::v4;
using strata::v6;

// --- rendering: "INBOUND_IPPACKET_V4", with flags as "+IS_FRAGMENT" (WFP flag names, traversal.md §10) -----
std::string render(layer_id l, std::uint32_t flags) {
  std::string s(strata::short_identifier(l));
  for (const auto& [bit, name] : flag::names)
    if (flags & bit) s += "+" + std::string(name);
  return s;
}
std::vector<std::string> render(const strata::step_list& steps) {
  std::vector<std::string> out;
  for (const auto& s : steps) out.push_back(render(s.layer, s.flags));
  return out;
}
std::vector<std::string> render(const strata::trace& t) {
  std::vector<std::string> out;
  for (const auto& s : t) out.push_back(render(s.layer, s.flags));
  return out;
}
/// The spec shows V4; "V6 identical on _V6 layers" (§4).
std::vector<std::string> for_v6(std::vector<std::string> row) {
  for (auto& s : row)
    for (std::size_t at; (at = s.find("_V4")) != std::string::npos;) s.replace(at, 3, "_V6");
  return row;
}
std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// --- the tables of traversal.md §4–8, one row per path kind (V4) ------------------------------------------
using row = std::vector<std::string>;
const std::map<path_kind, row>& spec_rows() {
  static const std::map<path_kind, row> rows = {
      // §4 TCP
      {path_kind::tcp_active_open,
       {"ALE_BIND_REDIRECT_V4", "ALE_RESOURCE_ASSIGNMENT_V4", "ALE_CONNECT_REDIRECT_V4",
        "ALE_AUTH_CONNECT_V4", "OUTBOUND_TRANSPORT_V4", "OUTBOUND_IPPACKET_V4"}},
      // "The server's passive open (ALE_BIND_REDIRECT, ALE_RESOURCE_ASSIGNMENT, ALE_AUTH_LISTEN) belongs to
      // the
      // listen() call"
      {path_kind::tcp_passive_open,
       {"ALE_BIND_REDIRECT_V4", "ALE_RESOURCE_ASSIGNMENT_V4", "ALE_AUTH_LISTEN_V4"}},
      {path_kind::tcp_inbound_syn,
       {"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4", "ALE_AUTH_RECV_ACCEPT_V4"}},
      {path_kind::tcp_inbound_syn_no_listener, {"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4_DISCARD"}},
      {path_kind::tcp_outbound_syn_ack, {"OUTBOUND_TRANSPORT_V4", "OUTBOUND_IPPACKET_V4"}},
      {path_kind::tcp_inbound_syn_ack, {"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4"}},
      {path_kind::tcp_outbound_final_ack,
       {"ALE_FLOW_ESTABLISHED_V4", "OUTBOUND_TRANSPORT_V4", "OUTBOUND_IPPACKET_V4"}},
      {path_kind::tcp_outbound_final_ack_payload,
       {"ALE_FLOW_ESTABLISHED_V4", "STREAM_V4", "OUTBOUND_TRANSPORT_V4", "OUTBOUND_IPPACKET_V4"}},
      {path_kind::tcp_inbound_final_ack,
       {"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4", "ALE_FLOW_ESTABLISHED_V4"}},
      {path_kind::tcp_inbound_final_ack_payload,
       {"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4", "ALE_FLOW_ESTABLISHED_V4", "STREAM_V4"}},
      {path_kind::tcp_outbound_data, {"STREAM_V4", "OUTBOUND_TRANSPORT_V4", "OUTBOUND_IPPACKET_V4"}},
      {path_kind::tcp_inbound_data, {"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4", "STREAM_V4"}},
      {path_kind::tcp_outbound_segment, {"OUTBOUND_TRANSPORT_V4", "OUTBOUND_IPPACKET_V4"}},
      {path_kind::tcp_inbound_segment, {"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4"}},
      // §8 "success, inbound TCP: INBOUND_IPPACKET, INBOUND_TRANSPORT, ALE_AUTH_RECV_ACCEPT, STREAM" with
      // IS_REAUTHORIZE on the ALE step; a segment without payload has no STREAM step (§4: "STREAM if
      // payload").
      // The ALE layer is "the ALE authorization layer of the flow's origin", in either direction; "Outbound
      // packets mirror this at ALE_AUTH_CONNECT before STREAM/DATAGRAM_DATA".
      {path_kind::tcp_inbound_reauthorize,
       {"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4", "ALE_AUTH_RECV_ACCEPT_V4+IS_REAUTHORIZE"}},
      {path_kind::tcp_inbound_reauthorize_payload,
       {"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4", "ALE_AUTH_RECV_ACCEPT_V4+IS_REAUTHORIZE",
        "STREAM_V4"}},
      {path_kind::tcp_inbound_reauthorize_connect,
       {"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4", "ALE_AUTH_CONNECT_V4+IS_REAUTHORIZE"}},
      {path_kind::tcp_inbound_reauthorize_connect_payload,
       {"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4", "ALE_AUTH_CONNECT_V4+IS_REAUTHORIZE", "STREAM_V4"}},
      {path_kind::tcp_outbound_reauthorize,
       {"ALE_AUTH_CONNECT_V4+IS_REAUTHORIZE", "OUTBOUND_TRANSPORT_V4", "OUTBOUND_IPPACKET_V4"}},
      {path_kind::tcp_outbound_reauthorize_payload,
       {"ALE_AUTH_CONNECT_V4+IS_REAUTHORIZE", "STREAM_V4", "OUTBOUND_TRANSPORT_V4", "OUTBOUND_IPPACKET_V4"}},
      {path_kind::tcp_outbound_reauthorize_accept,
       {"ALE_AUTH_RECV_ACCEPT_V4+IS_REAUTHORIZE", "OUTBOUND_TRANSPORT_V4", "OUTBOUND_IPPACKET_V4"}},
      {path_kind::tcp_outbound_reauthorize_accept_payload,
       {"ALE_AUTH_RECV_ACCEPT_V4+IS_REAUTHORIZE", "STREAM_V4", "OUTBOUND_TRANSPORT_V4",
        "OUTBOUND_IPPACKET_V4"}},
      // §4 UDP and every other non-TCP protocol
      {path_kind::datagram_outbound_first_bind,
       {"ALE_BIND_REDIRECT_V4", "ALE_RESOURCE_ASSIGNMENT_V4", "ALE_CONNECT_REDIRECT_V4",
        "ALE_AUTH_CONNECT_V4", "ALE_FLOW_ESTABLISHED_V4", "DATAGRAM_DATA_V4", "OUTBOUND_TRANSPORT_V4",
        "OUTBOUND_IPPACKET_V4"}},
      {path_kind::datagram_outbound_first,
       {"ALE_CONNECT_REDIRECT_V4", "ALE_AUTH_CONNECT_V4", "ALE_FLOW_ESTABLISHED_V4", "DATAGRAM_DATA_V4",
        "OUTBOUND_TRANSPORT_V4", "OUTBOUND_IPPACKET_V4"}},
      {path_kind::datagram_inbound_first,
       {"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4", "ALE_AUTH_RECV_ACCEPT_V4", "ALE_FLOW_ESTABLISHED_V4",
        "DATAGRAM_DATA_V4"}},
      {path_kind::datagram_inbound_no_listener, {"INBOUND_IPPACKET_V4", "INBOUND_IPPACKET_V4_DISCARD"}},
      {path_kind::datagram_outbound, {"DATAGRAM_DATA_V4", "OUTBOUND_TRANSPORT_V4", "OUTBOUND_IPPACKET_V4"}},
      {path_kind::datagram_inbound, {"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4", "DATAGRAM_DATA_V4"}},
      // §8 "success, inbound UDP: INBOUND_IPPACKET, INBOUND_TRANSPORT, ALE_AUTH_RECV_ACCEPT, DATAGRAM_DATA"
      {path_kind::datagram_inbound_reauthorize,
       {"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4", "ALE_AUTH_RECV_ACCEPT_V4+IS_REAUTHORIZE",
        "DATAGRAM_DATA_V4"}},
      {path_kind::datagram_inbound_reauthorize_connect,
       {"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4", "ALE_AUTH_CONNECT_V4+IS_REAUTHORIZE",
        "DATAGRAM_DATA_V4"}},
      {path_kind::datagram_outbound_reauthorize,
       {"ALE_AUTH_CONNECT_V4+IS_REAUTHORIZE", "DATAGRAM_DATA_V4", "OUTBOUND_TRANSPORT_V4",
        "OUTBOUND_IPPACKET_V4"}},
      {path_kind::datagram_outbound_reauthorize_accept,
       {"ALE_AUTH_RECV_ACCEPT_V4+IS_REAUTHORIZE", "DATAGRAM_DATA_V4", "OUTBOUND_TRANSPORT_V4",
        "OUTBOUND_IPPACKET_V4"}},
      // §4 ICMP and ICMPv6 errors
      {path_kind::icmp_error_outbound,
       {"OUTBOUND_ICMP_ERROR_V4", "OUTBOUND_TRANSPORT_V4", "OUTBOUND_IPPACKET_V4"}},
      {path_kind::icmp_error_inbound,
       {"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4", "INBOUND_ICMP_ERROR_V4"}},
      // §6 "A forwarded packet visits only IPFORWARD_V4/IPFORWARD_V6, once."
      {path_kind::forward, {"IPFORWARD_V4"}},
      // §5 "Forwarded fragments are classified one by one at IPFORWARD with flag IS_FRAGMENT"
      {path_kind::forward_fragment, {"IPFORWARD_V4+IS_FRAGMENT"}},
      // §5 "every fragment visits INBOUND_IPPACKET as an IP packet and again as a fragment (flag
      // IS_FRAGMENT)"
      {path_kind::inbound_fragment, {"INBOUND_IPPACKET_V4", "INBOUND_IPPACKET_V4+IS_FRAGMENT"}},
      // §9 "(inbound: INBOUND_MAC_FRAME_NATIVE, INBOUND_MAC_FRAME_ETHERNET; outbound:
      // OUTBOUND_MAC_FRAME_ETHERNET, OUTBOUND_MAC_FRAME_NATIVE)"
      {path_kind::mac_inbound, {"INBOUND_MAC_FRAME_NATIVE", "INBOUND_MAC_FRAME_ETHERNET"}},
      {path_kind::mac_outbound, {"OUTBOUND_MAC_FRAME_ETHERNET", "OUTBOUND_MAC_FRAME_NATIVE"}},
  };
  return rows;
}

/// §5: "the frame that completes reassembly then carries the reassembled packet: INBOUND_IPPACKET with flag
/// IS_REASSEMBLED, followed by the transport rows of §4" — after the fragment's own two indications.
row reassembled_row(const row& r) {
  row out = spec_rows().at(path_kind::inbound_fragment);
  out.push_back(r.front() + "+IS_REASSEMBLED");
  out.insert(out.end(), r.begin() + 1, r.end());
  return out;
}
bool takes_reassembly(path_kind k, const row& r) {
  return k != path_kind::inbound_fragment && r.front() == "INBOUND_IPPACKET_V4";
}

TEST(Paths, EveryKindHasARowInTheSpecTable) {
  EXPECT_EQ(spec_rows().size(), strata::path_kind_count);
  for (std::size_t k = 0; k < strata::path_kind_count; ++k)
    EXPECT_TRUE(spec_rows().count(static_cast<path_kind>(k))) << strata::name(static_cast<path_kind>(k));
}

TEST(Paths, EveryKindVisitsTheSpecsLayersInOrderV4AndV6) {
  for (const auto& [kind, r] : spec_rows()) {
    SCOPED_TRACE(std::string(strata::name(kind)));
    EXPECT_EQ(render(strata::steps_of(kind, family::v4)), r)
        << join(render(strata::steps_of(kind, family::v4)));
    EXPECT_EQ(render(strata::steps_of(kind, family::v6)), for_v6(r));
    EXPECT_EQ(render(strata::steps_of(path_key{kind, family::v4, false})), r);
    EXPECT_EQ(render(strata::steps_of(path_key{kind, family::v6, false})), for_v6(r));
  }
}

TEST(Paths, ReassembledDatagrams) {
  int reassembling = 0;
  for (const auto& [kind, r] : spec_rows()) {
    if (!takes_reassembly(kind, r)) continue;
    ++reassembling;
    SCOPED_TRACE(std::string(strata::name(kind)));
    EXPECT_EQ(render(strata::steps_of(path_key{kind, family::v4, true})), reassembled_row(r));
    EXPECT_EQ(render(strata::steps_of(path_key{kind, family::v6, true})), for_v6(reassembled_row(r)));
  }
  EXPECT_GE(reassembling, 15);
  // Spelled out once for one row: a reassembled UDP datagram for a listener.
  const row udp = {
      "INBOUND_IPPACKET_V6",  "INBOUND_IPPACKET_V6+IS_FRAGMENT", "INBOUND_IPPACKET_V6+IS_REASSEMBLED",
      "INBOUND_TRANSPORT_V6", "ALE_AUTH_RECV_ACCEPT_V6",         "ALE_FLOW_ESTABLISHED_V6",
      "DATAGRAM_DATA_V6"};
  using reassembled_udp = path::reassembled<path::udp::inbound_first<v6>>;
  EXPECT_EQ(render(reassembled_udp::steps), udp);
  EXPECT_TRUE(reassembled_udp::key.reassembled);
}

TEST(Paths, AllPathKeysHoldEveryKindBothFamiliesAndEveryReassembledVariant) {
  std::set<std::tuple<int, int, bool>> expected, actual;
  for (const auto& [kind, r] : spec_rows())
    for (family f : {family::v4, family::v6}) {
      expected.insert({static_cast<int>(kind), static_cast<int>(f), false});
      if (takes_reassembly(kind, r)) expected.insert({static_cast<int>(kind), static_cast<int>(f), true});
    }
  for (const path_key& k : strata::all_path_keys) {
    EXPECT_TRUE(actual.insert({static_cast<int>(k.kind), static_cast<int>(k.fam), k.reassembled}).second)
        << "duplicate key " << strata::name(k.kind);
  }
  EXPECT_EQ(actual, expected);
  for (std::size_t i = 0; i < strata::all_path_keys.size(); ++i)
    EXPECT_EQ(strata::index_of(strata::all_path_keys[i]), i);
}

// --- the strata::path aliases
// -------------------------------------------------------------------------------
template <class P>
void expect_alias(path_kind kind, family f) {
  SCOPED_TRACE(std::string(strata::name(kind)) + (f == family::v4 ? " v4" : " v6"));
  static_assert(strata::Path<P>);
  EXPECT_TRUE((P::key == path_key{kind, f, false}));
  const row r = spec_rows().at(kind);
  EXPECT_EQ(render(P::steps), f == family::v4 ? r : for_v6(r));
}
template <template <class> class Alias>
void expect_alias_both(path_kind kind) {
  expect_alias<Alias<v4>>(kind, family::v4);
  expect_alias<Alias<v6>>(kind, family::v6);
}

TEST(Paths, TheAliasesNameTheirRows) {
  expect_alias_both<path::tcp::active_open>(path_kind::tcp_active_open);
  expect_alias_both<path::tcp::passive_open>(path_kind::tcp_passive_open);
  expect_alias_both<path::tcp::inbound_syn>(path_kind::tcp_inbound_syn);
  expect_alias_both<path::tcp::inbound_syn_no_listener>(path_kind::tcp_inbound_syn_no_listener);
  expect_alias_both<path::tcp::outbound_syn_ack>(path_kind::tcp_outbound_syn_ack);
  expect_alias_both<path::tcp::inbound_syn_ack>(path_kind::tcp_inbound_syn_ack);
  expect_alias_both<path::tcp::outbound_final_ack>(path_kind::tcp_outbound_final_ack);
  expect_alias_both<path::tcp::outbound_final_ack_payload>(path_kind::tcp_outbound_final_ack_payload);
  expect_alias_both<path::tcp::inbound_final_ack>(path_kind::tcp_inbound_final_ack);
  expect_alias_both<path::tcp::inbound_final_ack_payload>(path_kind::tcp_inbound_final_ack_payload);
  expect_alias_both<path::tcp::outbound_data>(path_kind::tcp_outbound_data);
  expect_alias_both<path::tcp::inbound_data>(path_kind::tcp_inbound_data);
  expect_alias_both<path::tcp::outbound_segment>(path_kind::tcp_outbound_segment);
  expect_alias_both<path::tcp::inbound_segment>(path_kind::tcp_inbound_segment);
  expect_alias_both<path::tcp::inbound_reauthorize>(path_kind::tcp_inbound_reauthorize);
  expect_alias_both<path::tcp::inbound_reauthorize_payload>(path_kind::tcp_inbound_reauthorize_payload);
  expect_alias_both<path::tcp::outbound_reauthorize>(path_kind::tcp_outbound_reauthorize);
  expect_alias_both<path::tcp::outbound_reauthorize_payload>(path_kind::tcp_outbound_reauthorize_payload);
  expect_alias_both<path::udp::outbound_first_bind>(path_kind::datagram_outbound_first_bind);
  expect_alias_both<path::udp::outbound_first>(path_kind::datagram_outbound_first);
  expect_alias_both<path::udp::inbound_first>(path_kind::datagram_inbound_first);
  expect_alias_both<path::udp::inbound_no_listener>(path_kind::datagram_inbound_no_listener);
  expect_alias_both<path::udp::outbound>(path_kind::datagram_outbound);
  expect_alias_both<path::udp::inbound>(path_kind::datagram_inbound);
  expect_alias_both<path::udp::inbound_reauthorize>(path_kind::datagram_inbound_reauthorize);
  expect_alias_both<path::udp::outbound_reauthorize>(path_kind::datagram_outbound_reauthorize);
  expect_alias_both<path::icmp_error::outbound>(path_kind::icmp_error_outbound);
  expect_alias_both<path::icmp_error::inbound>(path_kind::icmp_error_inbound);
  expect_alias_both<path::forward>(path_kind::forward);
  expect_alias_both<path::forward_fragment>(path_kind::forward_fragment);
  expect_alias_both<path::inbound_fragment>(path_kind::inbound_fragment);
}

// --- running policies along paths, with a trace -----------------------------------------------------------
struct step_expect {
  std::string layer;          ///< rendered with its flags, as in the tables
  std::string_view filter{};  ///< deciding filter's name, "" for none
  action act = action::none;
};

template <auto const& P>
std::string_view name_of(int filter) {
  return filter < 0 ? std::string_view{} : P.filters[static_cast<std::size_t>(filter)].name;
}

/// Runs path Path with both the compiled pipeline and the generic evaluator, checks that they agree, checks
/// the trace against `steps` and returns the result.
template <auto const& P, class Path>
strata::path_result run(const incoming_values& v, const std::vector<step_expect>& steps) {
  strata::trace tc, tg;
  const strata::path_result c = strata::compiled<P>::template run<Path>(v, tc);
  const strata::path_result g = strata::classify_generic(P, Path::key, v, tg);
  EXPECT_TRUE(c == g) << "compiled and generic results differ";
  EXPECT_EQ(render(tc), render(tg));
  std::vector<std::string> want;
  for (const auto& s : steps) want.push_back(s.layer);
  EXPECT_EQ(render(tc), want);
  for (std::size_t i = 0; i < tc.size() && i < steps.size(); ++i) {
    SCOPED_TRACE("step " + std::to_string(i) + " " + steps[i].layer);
    EXPECT_TRUE(tc[i] == tg[i]);
    EXPECT_EQ(name_of<P>(tc[i].filter), steps[i].filter);
    EXPECT_EQ(tc[i].act, steps[i].act);
  }
  return c;
}

// §7: "When a layer's result is block, the packet visits that layer's _DISCARD twin next (where one exists)
// and its traversal ends there; the packet's verdict is block and the record names the deciding filter."
constexpr auto p_blocking =
    policy(filter<"block-8080", layer::inbound_transport_v4>(action::block, strata::local_port == 8080),
           filter<"block-8080-v6", layer::inbound_transport_v6>(action::block, strata::local_port == 8080),
           filter<"redirect-block", layer::ale_connect_redirect_v4>(action::block, strata::remote_port == 25),
           filter<"block-out-ip", layer::outbound_ippacket_v4>(action::block,
                                                               strata::remote_address == "192.0.2.0/24"_v4),
           filter<"see-drops", layer::inbound_transport_v4_discard>(action::permit));

TEST(Blocking, ABlockGoesToTheDiscardTwinAndEnds) {
  using syn4 = path::tcp::inbound_syn<v4>;
  auto r = run<p_blocking, syn4>({.local_port = 8080},
                                 {{"INBOUND_IPPACKET_V4"},
                                  {"INBOUND_TRANSPORT_V4", "block-8080", action::block},
                                  {"INBOUND_TRANSPORT_V4_DISCARD", "see-drops", action::permit}});
  EXPECT_EQ(r.verdict, action::block);
  EXPECT_EQ(name_of<p_blocking>(r.filter), "block-8080");
  EXPECT_EQ(r.layer, layer_id::inbound_transport_v4);
  EXPECT_FALSE(r.stack_discard);
  EXPECT_FALSE(r.answer_suppressed);

  r = run<p_blocking, path::tcp::inbound_syn<v6>>({.local_port = 8080},
                                                  {{"INBOUND_IPPACKET_V6"},
                                                   {"INBOUND_TRANSPORT_V6", "block-8080-v6", action::block},
                                                   {"INBOUND_TRANSPORT_V6_DISCARD"}});
  EXPECT_EQ(r.verdict, action::block);
  EXPECT_EQ(name_of<p_blocking>(r.filter), "block-8080-v6");

  // Not blocked: the whole row.
  r = run<p_blocking, syn4>({.local_port = 80},
                            {{"INBOUND_IPPACKET_V4"}, {"INBOUND_TRANSPORT_V4"}, {"ALE_AUTH_RECV_ACCEPT_V4"}});
  EXPECT_EQ(r.verdict, action::permit);
  EXPECT_EQ(r.filter, -1);
}

TEST(Blocking, ALayerWithoutDiscardTwinEndsTheTraversalThere) {
  // ALE_CONNECT_REDIRECT has no _DISCARD layer in the seed.
  const auto r = run<p_blocking, path::tcp::active_open<v4>>(
      {.remote_port = 25}, {{"ALE_BIND_REDIRECT_V4"},
                            {"ALE_RESOURCE_ASSIGNMENT_V4"},
                            {"ALE_CONNECT_REDIRECT_V4", "redirect-block", action::block}});
  EXPECT_EQ(r.verdict, action::block);
  EXPECT_EQ(r.layer, layer_id::ale_connect_redirect_v4);
}

TEST(Blocking, ABlockAtTheLastLayer) {
  const auto r = run<p_blocking, path::udp::outbound<v4>>(
      {.remote_address = "192.0.2.7"_v4}, {{"DATAGRAM_DATA_V4"},
                                           {"OUTBOUND_TRANSPORT_V4"},
                                           {"OUTBOUND_IPPACKET_V4", "block-out-ip", action::block},
                                           {"OUTBOUND_IPPACKET_V4_DISCARD"}});
  EXPECT_EQ(r.verdict, action::block);
  EXPECT_EQ(name_of<p_blocking>(r.filter), "block-out-ip");
}

// The policy's default counts as the layer's result: a default block goes to the twin as well, with no
// filter.
constexpr auto p_default_block =
    policy(strata::default_block,
           filter<"allow-22", layer::ale_auth_recv_accept_v4>(action::permit, strata::local_port == 22));

TEST(Blocking, ADefaultBlockGoesToTheTwinWithNoFilter) {
  const auto r = run<p_default_block, path::tcp::inbound_syn<v4>>({.local_port = 80},
                                                                  {{"INBOUND_IPPACKET_V4"},
                                                                   {"INBOUND_TRANSPORT_V4"},
                                                                   {"ALE_AUTH_RECV_ACCEPT_V4"},
                                                                   {"ALE_AUTH_RECV_ACCEPT_V4_DISCARD"}});
  EXPECT_EQ(r.verdict, action::block);
  EXPECT_EQ(r.filter, -1);
  EXPECT_EQ(r.layer, layer_id::ale_auth_recv_accept_v4);
}

// §7: "The stack's own discards (no listener) are indicated the same way, with no filter. Filters at a
// _DISCARD layer see what was dropped; a block there also suppresses the stack's answer (the RST or the ICMP
// error)."
constexpr auto p_no_filters_at_discards = policy(filter<"unrelated", layer::stream_v4>(action::block));
constexpr auto p_stealth =
    policy(filter<"stealth-tcp", layer::inbound_transport_v4_discard>(
               action::block, strata::discard_reason == strata::discard_reason_code::endpoint_not_found),
           filter<"stealth-udp", layer::inbound_ippacket_v4_discard>(
               action::block, strata::discard_reason == strata::discard_reason_code::port_unreachable),
           filter<"log-tcp-v6", layer::inbound_transport_v6_discard>(action::permit));

TEST(Blocking, StackDiscardsAndSuppressedAnswers) {
  auto r = run<p_no_filters_at_discards, path::tcp::inbound_syn_no_listener<v4>>(
      {}, {{"INBOUND_IPPACKET_V4"}, {"INBOUND_TRANSPORT_V4_DISCARD"}});
  EXPECT_EQ(r.verdict, action::block);
  EXPECT_EQ(r.filter, -1);
  EXPECT_TRUE(r.stack_discard);
  EXPECT_FALSE(r.answer_suppressed);

  r = run<p_stealth, path::tcp::inbound_syn_no_listener<v4>>(
      {}, {{"INBOUND_IPPACKET_V4"}, {"INBOUND_TRANSPORT_V4_DISCARD", "stealth-tcp", action::block}});
  EXPECT_EQ(r.verdict, action::block);
  EXPECT_TRUE(r.stack_discard);
  EXPECT_TRUE(r.answer_suppressed);
  EXPECT_EQ(name_of<p_stealth>(r.filter), "stealth-tcp");

  r = run<p_stealth, path::udp::inbound_no_listener<v4>>(
      {}, {{"INBOUND_IPPACKET_V4"}, {"INBOUND_IPPACKET_V4_DISCARD", "stealth-udp", action::block}});
  EXPECT_EQ(r.verdict, action::block);
  EXPECT_TRUE(r.answer_suppressed);
  EXPECT_EQ(name_of<p_stealth>(r.filter), "stealth-udp");

  // A permit at the discard layer sees the drop but cannot undo it, and suppresses nothing.
  r = run<p_stealth, path::tcp::inbound_syn_no_listener<v6>>(
      {}, {{"INBOUND_IPPACKET_V6"}, {"INBOUND_TRANSPORT_V6_DISCARD", "log-tcp-v6", action::permit}});
  EXPECT_EQ(r.verdict, action::block);
  EXPECT_TRUE(r.stack_discard);
  EXPECT_FALSE(r.answer_suppressed);
  // No filter of the V6 policy for UDP: the stack's discard alone.
  r = run<p_stealth, path::udp::inbound_no_listener<v6>>(
      {}, {{"INBOUND_IPPACKET_V6"}, {"INBOUND_IPPACKET_V6_DISCARD"}});
  EXPECT_EQ(r.verdict, action::block);
  EXPECT_FALSE(r.answer_suppressed);
}

// Filters at a discard twin see why the packet was dropped (wfp-facts §5: FWPS_DISCARD_MODULE0 GENERAL with
// FIREWALL_POLICY when a filter blocked; TRANSPORT EndpointNotFound for a TCP SYN nobody listens for; NETWORK
// PortUnreachable for such a datagram). A callout that records what it was given shows it.
std::uint32_t g_seen_module = 99, g_seen_reason = 99;
callout_answer record_discard(const incoming_values& v, bool) {
  g_seen_module = v.discard_module;
  g_seen_reason = v.discard_reason;
  return action::continue_;
}
constexpr auto p_record_discard =
    policy(filter<"block-9", layer::inbound_transport_v4>(action::block, strata::local_port == 9),
           filter<"record-transport-drop", layer::inbound_transport_v4_discard>(
               strata::callout_inspection(&record_discard)),
           filter<"record-ip-drop", layer::inbound_ippacket_v4_discard>(
               strata::callout_inspection(&record_discard)));

TEST(Blocking, TheDiscardTwinReceivesTheDiscardModuleAndReason) {
  using strata::discard_module_code;
  using strata::discard_reason_code;
  const auto seen = [](auto run_it) {
    g_seen_module = g_seen_reason = 99;
    run_it();
    return std::pair{g_seen_module, g_seen_reason};
  };
  using mr = std::pair<std::uint32_t, std::uint32_t>;
  const mr by_filter{static_cast<std::uint32_t>(discard_module_code::general),
                     static_cast<std::uint32_t>(discard_reason_code::firewall_policy)};
  const mr no_tcp_listener{static_cast<std::uint32_t>(discard_module_code::transport),
                           static_cast<std::uint32_t>(discard_reason_code::endpoint_not_found)};
  const mr no_udp_listener{static_cast<std::uint32_t>(discard_module_code::network),
                           static_cast<std::uint32_t>(discard_reason_code::port_unreachable)};
  using cp = strata::compiled<p_record_discard>;
  EXPECT_EQ(seen([] { cp::run<path::tcp::inbound_syn<v4>>({.local_port = 9}); }), by_filter);
  EXPECT_EQ(seen([] {
              strata::classify_generic(p_record_discard, path::tcp::inbound_syn<v4>::key, {.local_port = 9});
            }),
            by_filter);
  EXPECT_EQ(seen([] { cp::run<path::tcp::inbound_syn_no_listener<v4>>({}); }), no_tcp_listener);
  EXPECT_EQ(seen([] { cp::run<path::udp::inbound_no_listener<v4>>({}); }), no_udp_listener);
  EXPECT_EQ(seen([] { cp::run<path::tcp::inbound_syn<v4>>({.local_port = 10}); }), (mr{99, 99}))
      << "not dropped";
}

// §5 fragments, through a policy: FLAGS conditions see IS_FRAGMENT and IS_REASSEMBLED on their steps. A
// discard twin offers its base layer's fields (arbitration.md), FLAGS among them, with the values of the
// dropped packet.
constexpr auto p_fragments = policy(
    filter<"block-fragments-from-bad", layer::inbound_ippacket_v4>(
        action::block, strata::flags.all_set(flag::is_fragment), strata::remote_address == "192.0.2.0/24"_v4),
    filter<"block-reassembled-from-evil", layer::inbound_ippacket_v4>(
        action::block, strata::flags.all_set(flag::is_reassembled),
        strata::remote_address == "198.51.100.0/24"_v4),
    filter<"block-forwarded-fragments", layer::ipforward_v4>(action::block,
                                                             strata::flags.any_set(flag::is_fragment)));

TEST(Fragments, FlagsTravelWithTheirSteps) {
  using reassembled_udp = path::reassembled<path::udp::inbound_first<v4>>;
  auto r = run<p_fragments, reassembled_udp>({.remote_address = "203.0.113.1"_v4},
                                             {{"INBOUND_IPPACKET_V4"},
                                              {"INBOUND_IPPACKET_V4+IS_FRAGMENT"},
                                              {"INBOUND_IPPACKET_V4+IS_REASSEMBLED"},
                                              {"INBOUND_TRANSPORT_V4"},
                                              {"ALE_AUTH_RECV_ACCEPT_V4"},
                                              {"ALE_FLOW_ESTABLISHED_V4"},
                                              {"DATAGRAM_DATA_V4"}});
  EXPECT_EQ(r.verdict, action::permit);
  // Blocked at the fragment indication: the discard twin, and no transport layer.
  r = run<p_fragments, reassembled_udp>(
      {.remote_address = "192.0.2.1"_v4},
      {{"INBOUND_IPPACKET_V4"},
       {"INBOUND_IPPACKET_V4+IS_FRAGMENT", "block-fragments-from-bad", action::block},
       {"INBOUND_IPPACKET_V4_DISCARD+IS_FRAGMENT"}});
  EXPECT_EQ(r.verdict, action::block);
  // Blocked at the reassembled indication.
  r = run<p_fragments, reassembled_udp>(
      {.remote_address = "198.51.100.7"_v4},
      {{"INBOUND_IPPACKET_V4"},
       {"INBOUND_IPPACKET_V4+IS_FRAGMENT"},
       {"INBOUND_IPPACKET_V4+IS_REASSEMBLED", "block-reassembled-from-evil", action::block},
       {"INBOUND_IPPACKET_V4_DISCARD+IS_REASSEMBLED"}});
  EXPECT_EQ(r.verdict, action::block);
  // A fragment that does not complete its datagram visits no transport layer.
  r = run<p_fragments, path::inbound_fragment<v4>>(
      {.remote_address = "198.51.100.7"_v4}, {{"INBOUND_IPPACKET_V4"}, {"INBOUND_IPPACKET_V4+IS_FRAGMENT"}});
  EXPECT_EQ(r.verdict, action::permit);
  // Forwarded fragments one by one at IPFORWARD with IS_FRAGMENT; a whole forwarded packet has no such flag.
  r = run<p_fragments, path::forward_fragment<v4>>(
      {}, {{"IPFORWARD_V4+IS_FRAGMENT", "block-forwarded-fragments", action::block},
           {"IPFORWARD_V4_DISCARD+IS_FRAGMENT"}});
  EXPECT_EQ(r.verdict, action::block);
  r = run<p_fragments, path::forward<v4>>({}, {{"IPFORWARD_V4"}});
  EXPECT_EQ(r.verdict, action::permit);
}

TEST(Paths, ThePacketsOwnFlagsAreKeptOnEveryStep) {
  // IS_LOOPBACK (traversal.md §1) is the packet's; each step adds its own flags to it.
  const auto r = run<p_fragments, path::reassembled<path::tcp::inbound_syn<v6>>>(
      {.flags = flag::is_loopback}, {{"INBOUND_IPPACKET_V6+IS_LOOPBACK"},
                                     {"INBOUND_IPPACKET_V6+IS_LOOPBACK+IS_FRAGMENT"},
                                     {"INBOUND_IPPACKET_V6+IS_LOOPBACK+IS_REASSEMBLED"},
                                     {"INBOUND_TRANSPORT_V6+IS_LOOPBACK"},
                                     {"ALE_AUTH_RECV_ACCEPT_V6+IS_LOOPBACK"}});
  EXPECT_EQ(r.verdict, action::permit);
}

// §8 reauthorization: success and failure, both directions, TCP and UDP.
constexpr auto p_reauth =
    policy(filter<"revoke-9000", layer::ale_auth_recv_accept_v4>(
               action::block, strata::flags.all_set(flag::is_reauthorize), strata::local_port == 9000),
           filter<"revoke-9000-connect", layer::ale_auth_connect_v4>(
               action::block, strata::flags.all_set(flag::is_reauthorize), strata::remote_port == 9000),
           filter<"revoke-9000-v6", layer::ale_auth_recv_accept_v6>(
               action::block, strata::flags.all_set(flag::is_reauthorize), strata::local_port == 9000),
           // Never matches a reauthorization: the flag is set there.
           filter<"first-time-only", layer::ale_auth_recv_accept_v4>(
               action::block, strata::flags.none_set(flag::is_reauthorize), strata::local_port == 7000));

TEST(Reauthorization, SuccessAndFailureInboundCreatedFlows) {
  auto r = run<p_reauth, path::tcp::inbound_reauthorize_payload<v4>>(
      {.local_port = 80}, {{"INBOUND_IPPACKET_V4"},
                           {"INBOUND_TRANSPORT_V4"},
                           {"ALE_AUTH_RECV_ACCEPT_V4+IS_REAUTHORIZE"},
                           {"STREAM_V4"}});
  EXPECT_EQ(r.verdict, action::permit);
  r = run<p_reauth, path::tcp::inbound_reauthorize_payload<v4>>({.local_port = 7000},
                                                                {{"INBOUND_IPPACKET_V4"},
                                                                 {"INBOUND_TRANSPORT_V4"},
                                                                 {"ALE_AUTH_RECV_ACCEPT_V4+IS_REAUTHORIZE"},
                                                                 {"STREAM_V4"}});
  EXPECT_EQ(r.verdict, action::permit) << "a filter requiring no IS_REAUTHORIZE does not match";
  // "failure: …, ALE_AUTH_RECV_ACCEPT, ALE_AUTH_RECV_ACCEPT_DISCARD"
  r = run<p_reauth, path::tcp::inbound_reauthorize_payload<v4>>(
      {.local_port = 9000}, {{"INBOUND_IPPACKET_V4"},
                             {"INBOUND_TRANSPORT_V4"},
                             {"ALE_AUTH_RECV_ACCEPT_V4+IS_REAUTHORIZE", "revoke-9000", action::block},
                             {"ALE_AUTH_RECV_ACCEPT_V4_DISCARD+IS_REAUTHORIZE"}});
  EXPECT_EQ(r.verdict, action::block);
  EXPECT_EQ(name_of<p_reauth>(r.filter), "revoke-9000");
  r = run<p_reauth, path::udp::inbound_reauthorize<v4>>(
      {.local_port = 9000}, {{"INBOUND_IPPACKET_V4"},
                             {"INBOUND_TRANSPORT_V4"},
                             {"ALE_AUTH_RECV_ACCEPT_V4+IS_REAUTHORIZE", "revoke-9000", action::block},
                             {"ALE_AUTH_RECV_ACCEPT_V4_DISCARD+IS_REAUTHORIZE"}});
  EXPECT_EQ(r.verdict, action::block);
  r = run<p_reauth, path::udp::inbound_reauthorize<v6>>({.local_port = 53},
                                                        {{"INBOUND_IPPACKET_V6"},
                                                         {"INBOUND_TRANSPORT_V6"},
                                                         {"ALE_AUTH_RECV_ACCEPT_V6+IS_REAUTHORIZE"},
                                                         {"DATAGRAM_DATA_V6"}});
  EXPECT_EQ(r.verdict, action::permit);
  r = run<p_reauth, path::tcp::inbound_reauthorize<v6>>(
      {.local_port = 9000}, {{"INBOUND_IPPACKET_V6"},
                             {"INBOUND_TRANSPORT_V6"},
                             {"ALE_AUTH_RECV_ACCEPT_V6+IS_REAUTHORIZE", "revoke-9000-v6", action::block},
                             {"ALE_AUTH_RECV_ACCEPT_V6_DISCARD+IS_REAUTHORIZE"}});
  EXPECT_EQ(r.verdict, action::block);
  // "in either direction": an outbound packet of an inbound-created flow is reclassified at RECV_ACCEPT.
  r = run<p_reauth, strata::path_t<path_kind::tcp_outbound_reauthorize_accept_payload, v4>>(
      {.local_port = 9000}, {{"ALE_AUTH_RECV_ACCEPT_V4+IS_REAUTHORIZE", "revoke-9000", action::block},
                             {"ALE_AUTH_RECV_ACCEPT_V4_DISCARD+IS_REAUTHORIZE"}});
  EXPECT_EQ(r.verdict, action::block);
  r = run<p_reauth, strata::path_t<path_kind::datagram_outbound_reauthorize_accept, v4>>(
      {.local_port = 53}, {{"ALE_AUTH_RECV_ACCEPT_V4+IS_REAUTHORIZE"},
                           {"DATAGRAM_DATA_V4"},
                           {"OUTBOUND_TRANSPORT_V4"},
                           {"OUTBOUND_IPPACKET_V4"}});
  EXPECT_EQ(r.verdict, action::permit);
}

TEST(Reauthorization, SuccessAndFailureOutboundCreatedFlows) {
  // "Outbound packets mirror this at ALE_AUTH_CONNECT before STREAM/DATAGRAM_DATA."
  auto r = run<p_reauth, path::tcp::outbound_reauthorize_payload<v4>>({.remote_port = 443},
                                                                      {{"ALE_AUTH_CONNECT_V4+IS_REAUTHORIZE"},
                                                                       {"STREAM_V4"},
                                                                       {"OUTBOUND_TRANSPORT_V4"},
                                                                       {"OUTBOUND_IPPACKET_V4"}});
  EXPECT_EQ(r.verdict, action::permit);
  r = run<p_reauth, path::tcp::outbound_reauthorize_payload<v4>>(
      {.remote_port = 9000}, {{"ALE_AUTH_CONNECT_V4+IS_REAUTHORIZE", "revoke-9000-connect", action::block},
                              {"ALE_AUTH_CONNECT_V4_DISCARD+IS_REAUTHORIZE"}});
  EXPECT_EQ(r.verdict, action::block);
  r = run<p_reauth, path::udp::outbound_reauthorize<v4>>(
      {.remote_port = 9000}, {{"ALE_AUTH_CONNECT_V4+IS_REAUTHORIZE", "revoke-9000-connect", action::block},
                              {"ALE_AUTH_CONNECT_V4_DISCARD+IS_REAUTHORIZE"}});
  EXPECT_EQ(r.verdict, action::block);
  // An inbound packet of an outbound-created flow is reclassified at AUTH_CONNECT.
  r = run<p_reauth, strata::path_t<path_kind::tcp_inbound_reauthorize_connect_payload, v4>>(
      {.remote_port = 9000}, {{"INBOUND_IPPACKET_V4"},
                              {"INBOUND_TRANSPORT_V4"},
                              {"ALE_AUTH_CONNECT_V4+IS_REAUTHORIZE", "revoke-9000-connect", action::block},
                              {"ALE_AUTH_CONNECT_V4_DISCARD+IS_REAUTHORIZE"}});
  EXPECT_EQ(r.verdict, action::block);
  r = run<p_reauth, strata::path_t<path_kind::datagram_inbound_reauthorize_connect, v4>>(
      {.remote_port = 53}, {{"INBOUND_IPPACKET_V4"},
                            {"INBOUND_TRANSPORT_V4"},
                            {"ALE_AUTH_CONNECT_V4+IS_REAUTHORIZE"},
                            {"DATAGRAM_DATA_V4"}});
  EXPECT_EQ(r.verdict, action::permit);
}

// --- randomized cross-check: compiled pipelines == the generic evaluator ----------------------------------
constexpr sublayer s_admin{"admin", 0x9000};
constexpr sublayer s_base{"base", 0x4000};
constexpr sublayer s_apps{"apps", 0x1000};
constexpr sublayer s_inspect{"inspect", 0x0010};

constexpr callout_answer by_port(const incoming_values& v, bool) {
  if (v.local_port % 2 == 0) return action::permit;
  if (v.local_port % 3 == 0) return action::block;
  return action::continue_;
}
constexpr callout_answer hard_by_remote_port(const incoming_values& v, bool) {
  return v.remote_port > 50000 ? callout_answer{action::permit, true} : callout_answer{action::continue_};
}
constexpr callout_answer veto_when_no_right(const incoming_values& v, bool write_right) {
  return !write_right && v.interface_index == 3 ? action::block : action::continue_;
}
constexpr callout_answer inspect_only(const incoming_values& v, bool) {
  return v.flags & flag::is_loopback ? action::block : action::permit;  // ignored: inspection
}

using strata::flags;
using strata::ip_protocol;
using strata::local_address;
using strata::local_port;
using strata::remote_address;
using strata::remote_port;
using strata::weight;

constexpr auto r_policy_1 = policy(
    s_admin, s_base, s_apps,
    filter<"a1", layer::inbound_ippacket_v4>(s_admin, action::block, remote_address == "192.0.2.0/24"_v4),
    filter<"a2", layer::inbound_ippacket_v4>(s_base, action::permit, strata::clear_action_right,
                                             remote_address == "10.0.0.0/8"_v4),
    filter<"a3", layer::inbound_ippacket_v4>(s_apps, strata::callout_unknown(&veto_when_no_right)),
    filter<"a4", layer::inbound_ippacket_v4>(s_apps, action::block, flags.all_set(flag::is_fragment),
                                             remote_address == "10.200.0.0/16"_v4),
    filter<"a5", layer::inbound_ippacket_v6>(s_admin, action::block, remote_address == "2001:db8:1::/48"_v6),
    filter<"a6", layer::inbound_ippacket_v6>(s_base, strata::callout_terminating(&by_port)),
    filter<"a7", layer::inbound_transport_v4>(weight(3), action::block, local_port == 23 || local_port == 25),
    filter<"a8", layer::inbound_transport_v4>(weight(2), action::permit,
                                              local_port == strata::range(1, 1023)),
    filter<"a9", layer::inbound_transport_v4>(s_apps, action::continue_, ip_protocol == strata::proto::udp),
    filter<"a10", layer::inbound_transport_v4>(s_apps, strata::callout_terminating(&by_port),
                                               ip_protocol == 6),
    filter<"a11", layer::inbound_transport_v6>(action::block, local_port == 9000),
    filter<"a12", layer::ale_auth_recv_accept_v4>(s_admin, action::permit, strata::clear_action_right,
                                                  local_port == 22, remote_address == "10.0.0.0/8"_v4),
    filter<"a13", layer::ale_auth_recv_accept_v4>(s_base, action::block, local_port == 22),
    filter<"a14", layer::ale_auth_recv_accept_v4>(s_apps, strata::callout_unknown(&veto_when_no_right)),
    filter<"a15", layer::ale_auth_recv_accept_v4>(s_apps,
                                                  strata::callout_terminating(strata::unregistered_callout),
                                                  strata::permit_if_callout_unregistered, local_port == 8080),
    filter<"a16", layer::ale_auth_recv_accept_v6>(s_base, action::permit, remote_address == "fd00::/8"_v6),
    filter<"a17", layer::ale_auth_recv_accept_v6>(s_apps, action::block, flags.any_set(flag::is_reauthorize)),
    filter<"a18", layer::ale_auth_connect_v4>(s_base, action::block, remote_port == 25,
                                              remote_address != "10.0.0.0/8"_v4),
    filter<"a19", layer::ale_auth_connect_v4>(s_base, action::permit, strata::ale_app_id.prefix("app.exe")),
    filter<"a20", layer::ale_auth_connect_v4>(
        s_apps, action::block, strata::ale_app_id.equal_case_insensitive("\\device\\y\\svc.exe")),
    filter<"a21", layer::ale_flow_established_v4>(strata::callout_inspection(&inspect_only)),
    filter<"a22", layer::datagram_data_v4>(s_admin, strata::callout_terminating(&hard_by_remote_port)),
    filter<"a23", layer::datagram_data_v4>(s_base, action::block, remote_port == 53, local_port != 53),
    filter<"a24", layer::stream_v4>(action::block, remote_port == 6667),
    filter<"a25", layer::outbound_transport_v4>(s_base, action::block,
                                                remote_port == strata::range(6000, 6100)),
    filter<"a26", layer::outbound_ippacket_v6>(action::block, remote_address == "2001:db8::/32"_v6,
                                               remote_address != "2001:db8::1"_v6),
    filter<"a27", layer::inbound_transport_v4_discard>(action::block, remote_address == "10.0.0.0/8"_v4),
    filter<"a28", layer::inbound_ippacket_v4_discard>(strata::callout_unknown(&by_port)),
    filter<"a29", layer::ipforward_v4>(action::block, flags.all_set(flag::is_fragment)),
    filter<"a30", layer::inbound_icmp_error_v4>(action::block, strata::icmp_type == 3,
                                                strata::embedded_remote_port == 53),
    filter<"a31", layer::ale_bind_redirect_v4>(s_apps, action::block, local_port == 0),
    filter<"a32", layer::ale_auth_recv_accept_v4_discard>(strata::callout_inspection(&inspect_only)));

constexpr auto r_policy_2 = policy(
    strata::default_block, s_inspect, s_admin,
    filter<"b1", layer::ale_auth_recv_accept_v4>(s_admin, action::permit,
                                                 local_port == 22 || local_port == 80 || local_port == 443),
    filter<"b2", layer::ale_auth_recv_accept_v4>(s_inspect, strata::callout_inspection(&inspect_only)),
    filter<"b3", layer::ale_auth_recv_accept_v6>(s_admin, action::permit, local_port == 22,
                                                 remote_address == "fd00::/8"_v6),
    filter<"b4", layer::ale_auth_connect_v4>(s_admin, action::permit,
                                             remote_port == 53 || remote_port == 443),
    filter<"b5", layer::ale_auth_connect_v4>(s_admin, action::permit, ip_protocol == strata::proto::icmp),
    filter<"b6", layer::ale_auth_connect_v6>(s_admin, action::permit, remote_port == 443),
    filter<"b7", layer::inbound_transport_v4>(s_admin, action::continue_, local_port > 1024),
    filter<"b8", layer::inbound_transport_v4>(s_admin, action::permit, local_port <= 1024),
    filter<"b9", layer::inbound_transport_v6>(s_admin, action::permit, local_port >= 1),
    filter<"b10", layer::outbound_transport_v4>(s_admin, action::permit),
    filter<"b11", layer::outbound_transport_v6>(s_admin, action::block, remote_port == 0),
    filter<"b12", layer::datagram_data_v4>(s_inspect, strata::callout_unknown(&by_port)),
    filter<"b13", layer::datagram_data_v6>(s_admin, strata::callout_terminating(&by_port)),
    filter<"b14", layer::inbound_ippacket_v4>(s_admin, action::permit, local_address == "10.0.0.0/8"_v4),
    filter<"b15", layer::inbound_ippacket_v4>(s_inspect, action::block, flags.all_set(flag::is_reassembled)),
    filter<"b16", layer::outbound_ippacket_v4>(s_admin, action::permit, flags.none_set(flag::is_loopback)),
    filter<"b17", layer::ipforward_v6>(s_admin, action::permit,
                                       strata::ip_destination_address == "2001:db8::/32"_v6),
    filter<"b18", layer::ipforward_v4>(s_admin, action::permit),
    filter<"b19", layer::ale_flow_established_v6>(s_admin, action::permit),
    filter<"b20", layer::stream_v6>(s_admin, action::block, remote_port == 6667),
    filter<"b21", layer::stream_v6>(s_admin, action::permit),
    filter<"b22", layer::outbound_icmp_error_v4>(s_admin, action::block, strata::icmp_type == 3),
    filter<"b23", layer::inbound_icmp_error_v6>(s_admin, action::permit, strata::embedded_protocol == 17),
    filter<"b24", layer::ale_resource_assignment_v4>(s_admin, action::permit, local_port != 0),
    filter<"b25", layer::ale_connect_redirect_v6>(s_inspect,
                                                  strata::callout_unknown(strata::unregistered_callout)));

constexpr auto r_policy_3 = policy(
    filter<"c1", layer::inbound_transport_v6>(s_admin, action::permit, strata::hard,
                                              remote_address == "fd00::/8"_v6),
    filter<"c2", layer::inbound_transport_v6>(s_base, strata::callout_unknown(&veto_when_no_right)),
    filter<"c3", layer::inbound_transport_v6>(s_apps, action::block, local_port == 9000),
    filter<"c4", layer::inbound_transport_v6>(s_apps, strata::exact_weight(7), action::block,
                                              local_port == 9001),
    filter<"c5", layer::inbound_transport_v6>(s_apps, strata::exact_weight(7), action::permit,
                                              local_port == 9001),
    filter<"c6", layer::inbound_ippacket_v6>(s_base, action::block, local_address == "fe80::/10"_v6,
                                             flags.none_set(flag::is_loopback)),
    filter<"c7", layer::inbound_ippacket_v6>(s_base, action::block, flags.any_set(flag::is_fragment)),
    filter<"c8", layer::inbound_ippacket_v6_discard>(action::block),
    filter<"c9", layer::ale_auth_recv_accept_v6>(s_admin, strata::callout_terminating(&by_port),
                                                 remote_port > 1024),
    filter<"c10", layer::ale_auth_recv_accept_v6>(s_base, strata::callout_terminating(&hard_by_remote_port)),
    filter<"c11", layer::ale_auth_recv_accept_v6>(s_apps, strata::callout_unknown(&veto_when_no_right)),
    filter<"c12", layer::ale_auth_connect_v6>(weight(15), action::block,
                                              remote_address == "2001:db8:1::/48"_v6),
    filter<"c13", layer::ale_auth_connect_v6>(weight(14), action::permit,
                                              remote_address == "2001:db8::/32"_v6),
    filter<"c14", layer::ale_auth_connect_v6>(action::block, strata::ale_app_id == "\\device\\x\\app.exe"),
    filter<"c15", layer::ale_auth_connect_v6>(action::permit, strata::ale_app_id.not_prefix(".exe")),
    filter<"c16", layer::datagram_data_v6>(s_base, action::block, remote_port == 53, ip_protocol == 6),
    filter<"c17", layer::datagram_data_v6>(s_apps, strata::callout_inspection(&inspect_only)),
    filter<"c18", layer::outbound_transport_v6>(action::permit, strata::hard, remote_port == 443),
    filter<"c19", layer::outbound_transport_v6>(s_apps, strata::callout_unknown(&veto_when_no_right)),
    filter<"c20", layer::outbound_ippacket_v6>(action::block, remote_address == "ff00::/8"_v6),
    filter<"c21", layer::ale_flow_established_v6>(action::block, remote_port == 31337),
    filter<"c22", layer::stream_v6>(s_base, strata::callout_terminating(&by_port),
                                    local_port == strata::range(7000, 7999)),
    filter<"c23", layer::inbound_icmp_error_v6>(action::block, strata::icmp_type == 1,
                                                strata::icmp_code == 4),
    filter<"c24", layer::outbound_icmp_error_v6>(action::block, strata::icmp_type == 1),
    filter<"c25", layer::ipforward_v6>(action::block, strata::ip_source_address == "2001:db8:1::/48"_v6),
    filter<"c26", layer::ipforward_v6_discard>(action::permit),
    filter<"c27", layer::ale_bind_redirect_v6>(action::block, local_port == 0),
    filter<"c28", layer::ale_resource_assignment_v6>(action::block, local_port == 1),
    filter<"c29", layer::ale_connect_redirect_v6>(action::block, remote_port == 2),
    filter<"c30", layer::inbound_transport_v6_discard>(action::block, local_port == 9000),
    filter<"c31", layer::ale_auth_recv_accept_v6_discard>(strata::callout_unknown(&by_port)),
    filter<"c32", layer::inbound_ippacket_v4>(action::block, remote_address == "0.0.0.0/1"_v4),
    filter<"c33", layer::inbound_transport_v4>(action::block,
                                               flags.all_set(flag::is_loopback | flag::is_fragment)),
    filter<"c34", layer::ale_auth_recv_accept_v4>(s_apps, strata::callout_terminating(&by_port)),
    filter<"c35", layer::datagram_data_v4>(action::block, remote_port == 53 || remote_port == 5353,
                                           local_port == 1));

struct value_pair {
  incoming_values v4, v6;
};

value_pair random_values(std::mt19937_64& rng) {
  const auto pick = [&](auto const& pool) { return pool[rng() % std::size(pool)]; };
  static constexpr std::uint16_t ports[] = {0,    1,    2,    3,    4,    11,    22,    23,   25,
                                            53,   80,   443,  1024, 1025, 5353,  6000,  6050, 6667,
                                            7000, 7777, 8080, 9000, 9001, 31337, 50001, 65535};
  static const strata::address v4s[] = {"10.0.0.1"_v4,  "10.1.2.3"_v4, "10.200.0.9"_v4, "192.168.1.5"_v4,
                                        "192.0.2.1"_v4, "8.8.8.8"_v4,  "127.0.0.1"_v4,  "200.1.1.1"_v4};
  static const strata::address v6s[] = {"2001:db8::1"_v6, "2001:db8:1::5"_v6, "2001:db8:2::9"_v6,
                                        "fd00::2"_v6,     "fe80::1"_v6,       "::1"_v6,
                                        "ff02::1"_v6,     "2a00::1"_v6};
  static constexpr std::string_view apps[] = {"\\device\\x\\app.exe", "\\DEVICE\\X\\APP.EXE",
                                              "\\device\\y\\svc.exe", "\\device\\y\\svc.dll", ""};
  static constexpr std::uint8_t protocols[] = {1, 6, 17, 58};
  static constexpr std::uint32_t flag_bits[] = {flag::is_loopback, flag::is_reauthorize, flag::is_fragment,
                                                flag::is_reassembled, flag::is_ipsec_secured};
  incoming_values v;
  v.local_port = rng() % 4 ? pick(ports) : static_cast<std::uint16_t>(rng());
  v.remote_port = rng() % 4 ? pick(ports) : static_cast<std::uint16_t>(rng());
  v.ip_protocol = pick(protocols);
  v.embedded_protocol = pick(protocols);
  for (std::uint32_t b : flag_bits)
    if (rng() % 3 == 0) v.flags |= b;
  v.direction = static_cast<std::uint32_t>(rng() % 2);
  v.interface_index = static_cast<std::uint32_t>(rng() % 4);
  v.embedded_remote_port = pick(ports);
  v.app_id = pick(apps);
  value_pair out{v, v};
  out.v4.local_address = rng() % 5 ? pick(v4s) : strata::address::from_v4(static_cast<std::uint32_t>(rng()));
  out.v4.remote_address = rng() % 5 ? pick(v4s) : strata::address::from_v4(static_cast<std::uint32_t>(rng()));
  out.v4.embedded_remote_address = pick(v4s);
  out.v6.local_address = rng() % 5 ? pick(v6s) : strata::address{rng(), rng()};
  out.v6.remote_address = rng() % 5 ? pick(v6s) : strata::address{rng(), rng()};
  out.v6.embedded_remote_address = pick(v6s);
  return out;
}

struct cross_check_counts {
  int blocked = 0, permitted = 0, vetoes = 0, suppressed = 0;
};

template <auto const& P>
cross_check_counts cross_check(std::uint64_t seed, int samples) {
  std::mt19937_64 rng(seed);
  int blocked = 0, permitted = 0, vetoes = 0, suppressed = 0, mismatches = 0;
  for (int i = 0; i < samples; ++i) {
    const value_pair vp = random_values(rng);
    for (const path_key& key : strata::all_path_keys) {
      const incoming_values& v = key.fam == family::v4 ? vp.v4 : vp.v6;
      strata::trace tc, tg;
      const strata::path_result c = strata::compiled<P>::classify(key, v, tc);
      const strata::path_result g = strata::classify_generic(P, key, v, tg);
      bool same = c == g && tc.size() == tg.size();
      for (std::size_t s = 0; same && s < tc.size(); ++s) same = tc[s] == tg[s];
      // The no-trace pipeline decides the same.
      same = same && strata::compiled<P>::classify(key, v) == c;
      if (!same && ++mismatches <= 5) {
        ADD_FAILURE() << "sample " << i << " path " << strata::name(key.kind)
                      << (key.fam == family::v6 ? " v6" : " v4") << (key.reassembled ? " reassembled" : "")
                      << ": compiled " << strata::name(c.verdict) << " by " << c.filter << " ["
                      << join(render(tc)) << "] vs generic " << strata::name(g.verdict) << " by " << g.filter
                      << " [" << join(render(tg)) << "]";
      }
      (c.verdict == action::block ? blocked : permitted)++;
      vetoes += c.veto;
      suppressed += c.answer_suppressed;
    }
  }
  EXPECT_EQ(mismatches, 0);
  // The policies are meant to exercise both verdicts; a cross-check where everything permits proves little.
  EXPECT_GT(blocked, samples);
  EXPECT_GT(permitted, samples);
  ::testing::Test::RecordProperty("blocked", blocked);
  ::testing::Test::RecordProperty("vetoes", vetoes);
  ::testing::Test::RecordProperty("suppressed", suppressed);
  return {blocked, permitted, vetoes, suppressed};
}

constexpr int samples = 10000;

// Policies 1 and 3 hold hard permits followed by vetoing callouts, and blocking filters at stack-discard
// layers: the samples must reach both situations.
TEST(CrossCheck, CompiledEqualsGenericPolicy1) {
  const auto n = cross_check<r_policy_1>(0x5eed0001, samples);
  EXPECT_GT(n.vetoes, 0);
  EXPECT_GT(n.suppressed, 0);
}
TEST(CrossCheck, CompiledEqualsGenericPolicy2) { cross_check<r_policy_2>(0x5eed0002, samples); }
TEST(CrossCheck, CompiledEqualsGenericPolicy3) {
  const auto n = cross_check<r_policy_3>(0x5eed0003, samples);
  EXPECT_GT(n.vetoes, 0);
  EXPECT_GT(n.suppressed, 0);
}

}  // namespace
