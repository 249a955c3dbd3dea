// Pictures (strata/render.hpp): policies, compiled pipelines and traces as text and DOT, checked
// against golden files in tests/golden/. The goldens are compared exactly; to rewrite them after an
// intended change, run the tests with STRATA_UPDATE_GOLDEN=1 and review the diff (git diff tests/golden):
//
//   STRATA_UPDATE_GOLDEN=1 build/gcc/tests/strata_unit_tests --gtest_filter='Render*'
//
// paths.txt is every path of all_path_keys rendered with an empty policy: it is reviewed against the
// tables of traversal.md §4–8, and any change to a path's steps shows up in it.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include <strata/render.hpp>
#include <strata/strata.hpp>

namespace {

using namespace strata;

// ---- the policies ------------------------------------------------------------------------------------

// The README's policy.
constexpr sublayer admin{"admin", 0x8000};
constexpr sublayer base{"base", 0x1000};
constexpr auto host_policy =
    policy(filter<"ssh-from-lan", layer::ale_auth_recv_accept_v4>(
               admin, weight(15), action::permit, hard, local_port == 22, remote_address == "10.0.0.0/8"_v4),
           filter<"web", layer::ale_auth_recv_accept_v4>(base, action::permit,
                                                         local_port == 80 || local_port == 443),
           filter<"no-inbound", layer::ale_auth_recv_accept_v4>(base, weight(0), action::block),
           filter<"stealth-tcp", layer::inbound_transport_v4_discard>(base, action::block,
                                                                      ip_protocol == proto::tcp));

// Every way of writing a condition, every kind of action and flag, V4 and V6, a layer without a
// discard twin, filters at a discard twin, and a default block.
constexpr sublayer audit{"audit", 0x0100};
constexpr callout_answer inspect(const incoming_values&, bool) { return {action::continue_}; }
constexpr auto catalogue_policy = policy(
    admin, base, audit, default_block,
    filter<"no-fragments", layer::inbound_ippacket_v4>(admin, action::block,
                                                       flags.all_set(flag::is_fragment)),
    filter<"whole-packets", layer::inbound_ippacket_v4>(base, action::permit,
                                                        flags.none_set(flag::is_fragment)),
    filter<"ula-or-host", layer::inbound_ippacket_v6>(
        base, exact_weight(0x42), action::permit, hard,
        remote_address == "fd00::/8"_v6 || remote_address == "2001:db8::1"_v6),
    filter<"not-doc", layer::inbound_ippacket_v6>(audit, action::block, remote_address != "2001:db8::/32"_v6),
    filter<"ephemeral", layer::inbound_transport_v6>(base, action::continue_,
                                                     local_port == range(1000, 2000)),
    filter<"low-ports", layer::inbound_transport_v6>(base, weight(3), action::permit, local_port < 1024,
                                                     remote_port >= 1024, ip_protocol != proto::udp),
    filter<"accept-v6", layer::ale_auth_recv_accept_v6>(
        admin, action::permit, hard, local_port > 0, flags.any_set(flag::is_reauthorize | flag::is_loopback)),
    filter<"log-drops", layer::ale_auth_recv_accept_v6_discard>(audit, callout_inspection(&inspect)),
    filter<"redirect", layer::ale_connect_redirect_v4>(base, callout_terminating(unregistered_callout),
                                                       permit_if_callout_unregistered),
    filter<"svchost", layer::ale_auth_connect_v4>(admin, action::permit, ale_app_id.prefix("\\svchost.exe"),
                                                  remote_port <= 1023),
    filter<"dns", layer::ale_auth_connect_v4>(base, action::permit, ip_protocol == proto::udp,
                                              remote_port == 53),
    filter<"unreachable", layer::outbound_icmp_error_v4>(base, action::block, icmp_type == 3, icmp_code == 3),
    filter<"lab-forward", layer::ipforward_v4>(base, action::permit,
                                               ip_source_address == range("10.0.0.1"_v4, "10.0.0.9"_v4)),
    filter<"stack-drops", layer::inbound_ippacket_v4_discard>(
        audit, action::block,
        discard_reason == static_cast<std::uint32_t>(discard_reason_code::port_unreachable)));

constexpr auto empty_policy = policy();

// ---- golden files ------------------------------------------------------------------------------------

std::string golden_path(std::string_view file) {
  return std::string(STRATA_SOURCE_DIR) + "/tests/golden/" + std::string(file);
}

bool update_mode() {
  const char* v = std::getenv("STRATA_UPDATE_GOLDEN");
  return v != nullptr && std::string_view(v) == "1";
}

bool have_dot() { return std::system("command -v dot >/dev/null 2>&1") == 0; }

// Compares `actual` with tests/golden/<file> byte for byte; reports the first differing line.
void expect_golden(std::string_view file, const std::string& actual) {
  const std::string path = golden_path(file);
  if (update_mode()) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    ASSERT_TRUE(out) << "cannot write " << path;
    out << actual;
    std::printf("golden file rewritten: %s\n", path.c_str());
    return;
  }
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in) << "missing golden file " << path << " (run with STRATA_UPDATE_GOLDEN=1 to create it)";
  std::ostringstream buf;
  buf << in.rdbuf();
  const std::string expected = buf.str();
  if (expected == actual) return;
  std::istringstream e(expected), a(actual);
  std::string el, al;
  int line = 0;
  while (true) {
    ++line;
    const bool has_e = static_cast<bool>(std::getline(e, el));
    const bool has_a = static_cast<bool>(std::getline(a, al));
    if (!has_e && !has_a) break;
    if (!has_e || !has_a || el != al) {
      ADD_FAILURE() << file << ": differs from the golden file at line " << line
                    << "\n  golden: " << (has_e ? el : "<end of file>")
                    << "\n  actual: " << (has_a ? al : "<end of output>")
                    << "\n(intended? rerun with STRATA_UPDATE_GOLDEN=1 and review git diff tests/golden)";
      return;
    }
  }
  ADD_FAILURE() << file << ": differs from the golden file (line endings or a final newline)";
}

// A DOT golden also has to be a graph Graphviz accepts (checked when `dot` is installed).
void expect_golden_dot(std::string_view file, const std::string& actual) {
  expect_golden(file, actual);
  if (update_mode() || !have_dot()) return;
  const std::string cmd = "dot -Tsvg -o /dev/null '" + golden_path(file) + "'";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << "dot rejects " << file;
}

incoming_values inbound_tcp(std::string_view remote, std::uint16_t local_port) {
  incoming_values v;
  v.local_address = *parse_address("10.0.0.2");
  v.remote_address = *parse_address(remote);
  v.local_port = local_port;
  v.remote_port = 40980;
  v.ip_protocol = proto::tcp;
  v.direction = static_cast<std::uint32_t>(fwp_direction::inbound);
  return v;
}

// ---- pieces ------------------------------------------------------------------------------------------

TEST(RenderPieces, ConditionsReadLikeTheirSource) {
  const auto cond = [](const auto& c, layer_id at = layer_id::none) {
    return to_string(c.alternatives[0], at);
  };
  EXPECT_EQ(cond(local_port == 22), "local_port == 22");
  EXPECT_EQ(cond(remote_port != 53), "remote_port != 53");
  EXPECT_EQ(cond(local_port == range(1000, 2000)), "local_port in [1000, 2000]");
  EXPECT_EQ(cond(local_port > 1023), "local_port > 1023");
  EXPECT_EQ(cond(local_port <= 1023), "local_port <= 1023");
  EXPECT_EQ(cond(remote_address == "10.0.0.0/8"_v4), "remote_address == 10.0.0.0/8");
  EXPECT_EQ(cond(remote_address == "10.1.2.3"_v4), "remote_address == 10.1.2.3");
  EXPECT_EQ(cond(local_address != "fd00::/8"_v6), "local_address != fd00::/8");
  EXPECT_EQ(cond(remote_address == "2001:0db8:0000:0000:0001:0000:0000:0001"_v6),
            "remote_address == 2001:db8::1:0:0:1");
  EXPECT_EQ(cond(remote_address == range("10.0.0.1"_v4, "10.0.0.9"_v4)),
            "remote_address in [10.0.0.1, 10.0.0.9]");
  EXPECT_EQ(cond(flags.none_set(flag::is_fragment)), "flags none_set IS_FRAGMENT");
  EXPECT_EQ(cond(flags.all_set(flag::is_fragment | flag::is_reassembled)),
            "flags all_set IS_FRAGMENT|IS_REASSEMBLED");
  EXPECT_EQ(cond(flags.any_set(0x1000u)), "flags any_set 0x1000");
  EXPECT_EQ(cond(ip_protocol == proto::tcp), "ip_protocol == tcp");
  EXPECT_EQ(cond(ip_protocol == 47), "ip_protocol == 47");
  EXPECT_EQ(cond(direction == fwp_direction::inbound), "direction == inbound");
  EXPECT_EQ(cond(ale_app_id.prefix("\\svchost.exe")), "ale_app_id prefix \"\\\\svchost.exe\"");
  EXPECT_EQ(cond(peer_name == "a\"b"), "peer_name == \"a\\\"b\"");
  EXPECT_EQ(cond(icmp_type == 3, layer_id::outbound_icmp_error_v4), "icmp_type == 3");
  EXPECT_EQ(cond(icmp_code == 1, layer_id::inbound_icmp_error_v6), "icmp_code == 1");
}

TEST(RenderPieces, FlagsLayersAndActions) {
  EXPECT_EQ(flag_names(0), "");
  EXPECT_EQ(flag_names(flag::is_fragment | flag::is_reassembled), "IS_FRAGMENT|IS_REASSEMBLED");
  EXPECT_EQ(flag_names(flag::is_reauthorize | 0x1000u, ","), "IS_REAUTHORIZE,0x1000");
  EXPECT_EQ(abbreviated(layer_id::inbound_ippacket_v4), "IPPACKET");
  EXPECT_EQ(abbreviated(layer_id::ale_auth_recv_accept_v6), "AUTH_RECV_ACCEPT");
  EXPECT_EQ(abbreviated(layer_id::inbound_transport_v4_discard), "TRANSPORT_DISCARD");
  EXPECT_EQ(abbreviated(layer_id::ipforward_v6), "IPFORWARD");
  EXPECT_EQ(abbreviated(layer_id::outbound_mac_frame_native), "MAC_FRAME_NATIVE");
  EXPECT_EQ(filter_action_text(host_policy.filters[0]), "permit, hard");
  EXPECT_EQ(filter_action_text(host_policy.filters[2]), "block");
  EXPECT_EQ(filter_action_text(
                catalogue_policy.filters[static_cast<std::size_t>(catalogue_policy.find("redirect"))]),
            "callout_terminating (unregistered), permit_if_callout_unregistered");
  EXPECT_EQ(filter_action_text(
                catalogue_policy.filters[static_cast<std::size_t>(catalogue_policy.find("log-drops"))]),
            "callout_inspection");
  EXPECT_EQ(conditions_text(host_policy, host_policy.filters[1]), "local_port == 80 || local_port == 443");
  EXPECT_EQ(conditions_text(host_policy, host_policy.filters[2]), "always");
}

// ---- (a) policies ------------------------------------------------------------------------------------

TEST(RenderPolicy, HostPolicyText) { expect_golden("host_policy.txt", to_text(host_policy)); }
TEST(RenderPolicy, HostPolicyDot) { expect_golden_dot("host_policy.dot", to_dot(host_policy)); }
TEST(RenderPolicy, CataloguePolicyText) { expect_golden("catalogue_policy.txt", to_text(catalogue_policy)); }
TEST(RenderPolicy, CataloguePolicyDot) {
  expect_golden_dot("catalogue_policy.dot", to_dot(catalogue_policy));
}
TEST(RenderPolicy, EmptyPolicyText) {
  EXPECT_EQ(to_text(empty_policy),
            "policy: 0 filters at 0 layers, default action permit\nsublayers by weight: none\n");
}

// ---- (b) pipelines -----------------------------------------------------------------------------------

TEST(RenderPipeline, HostInboundSyn) {
  expect_golden("pipeline_host_tcp_inbound_syn_v4.txt",
                pipeline_text<host_policy>(path::tcp::inbound_syn<v4>{}));
  expect_golden_dot("pipeline_host_tcp_inbound_syn_v4.dot",
                    pipeline_dot<host_policy>(path::tcp::inbound_syn<v4>{}));
}
TEST(RenderPipeline, HostInboundSynNoListener) {
  expect_golden("pipeline_host_tcp_inbound_syn_no_listener_v4.txt",
                pipeline_text<host_policy>(path::tcp::inbound_syn_no_listener<v4>{}));
  expect_golden_dot("pipeline_host_tcp_inbound_syn_no_listener_v4.dot",
                    pipeline_dot<compiled<host_policy>>(path::tcp::inbound_syn_no_listener<v4>{}));
}
TEST(RenderPipeline, CatalogueReassembledInboundSynV6) {
  using p = path::reassembled<path::tcp::inbound_syn<v6>>;
  expect_golden("pipeline_catalogue_tcp_inbound_syn_v6_reassembled.txt",
                pipeline_text<catalogue_policy>(p{}));
  expect_golden_dot("pipeline_catalogue_tcp_inbound_syn_v6_reassembled.dot",
                    pipeline_dot<catalogue_policy>(p{}));
}
TEST(RenderPipeline, CatalogueUdpActiveOpenWithBind) {
  expect_golden("pipeline_catalogue_datagram_outbound_first_bind_v4.txt",
                pipeline_text<catalogue_policy>(path::udp::outbound_first_bind<v4>{}));
}
TEST(RenderPipeline, CatalogueSeveralPathsInOneGraph) {
  constexpr path_key keys[] = {path::udp::inbound_no_listener<v4>::key, path::icmp_error::outbound<v4>::key,
                               path::forward_fragment<v4>::key, path::inbound_fragment<v4>::key};
  std::string text;
  for (const path_key& k : keys) text += pipeline_text<catalogue_policy>(k) + "\n";
  expect_golden("pipeline_catalogue_four_paths.txt", text);
  expect_golden_dot("pipeline_catalogue_four_paths.dot",
                    pipeline_dot<catalogue_policy>(std::span<const path_key>(keys)));
}

// Every path of all_path_keys with an empty policy: the steps of each, in order, with their flags.
// Reviewed against traversal.md §4–8.
TEST(RenderPipeline, EveryPathWithAnEmptyPolicy) {
  expect_golden("paths.txt", pipeline_text<empty_policy>());
}

TEST(RenderPipeline, EveryPathTextListsExactlyItsSteps) {
  for (const path_key& k : all_path_keys) {
    const std::string text = pipeline_text<catalogue_policy>(k);
    std::size_t at = 0;
    for (const step& s : steps_of(k)) {
      const std::size_t found = text.find(std::string(short_identifier(s.layer)), at);
      ASSERT_NE(found, std::string::npos) << text;
      at = found + 1;
      if (is_discard(s.layer)) {
        EXPECT_NE(text.find("the stack drops the packet here"), std::string::npos) << text;
      }
    }
  }
}

TEST(RenderPipeline, WhatWasCompiledDecidesWhatIsPrinted) {
  // A layer generates code exactly when compiled<P>::has_filters says so; the text follows it.
  static_assert(compiled<host_policy>::has_filters<layer_id::ale_auth_recv_accept_v4>);
  static_assert(!compiled<host_policy>::has_filters<layer_id::inbound_transport_v4>);
  const std::string text = pipeline_text<compiled<host_policy>>(path::tcp::inbound_syn<v4>::key);
  EXPECT_NE(text.find("INBOUND_TRANSPORT_V4     no filters: no code"), std::string::npos) << text;
  EXPECT_NE(text.find("ALE_AUTH_RECV_ACCEPT_V4  3 filters, inlined"), std::string::npos) << text;
}

TEST(RenderPipeline, EveryPathAsOneGraphIsValidDot) {
  const std::string dot = pipeline_dot<catalogue_policy>();
  for (std::size_t i = 0; i < all_path_keys.size(); ++i)
    EXPECT_NE(dot.find("subgraph \"cluster_p" + std::to_string(i) + "\""), std::string::npos);
  if (!have_dot()) GTEST_SKIP() << "dot not installed";
  const std::string file = ::testing::TempDir() + "strata_every_path.dot";
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << dot;
  }
  EXPECT_EQ(std::system(("dot -Tsvg -o /dev/null '" + file + "'").c_str()), 0);
  std::remove(file.c_str());
}

// ---- (c) traces --------------------------------------------------------------------------------------

template <auto const& P, class Path>
std::string trace_line(const incoming_values& v) {
  trace t;
  const path_result r = compiled<P>::template run<Path>(v, t);
  // The compiled pipeline and the interpreted reference agree on what they recorded.
  trace reference;
  EXPECT_EQ(classify_generic(P, Path::key, v, reference), r);
  EXPECT_EQ(to_text(reference, P), to_text(t, P));
  return std::string(name(Path::key.kind)) + ": " + to_text(t, P) + "  => " + std::string(name(r.verdict)) +
         "\n";
}

TEST(RenderTrace, OneLinePerPacket) {
  // The sketch of user-experience.md, exactly.
  {
    trace t;
    compiled<host_policy>::run<path::tcp::inbound_syn<v4>>(inbound_tcp("10.1.2.3", 22), t);
    EXPECT_EQ(to_text(t, host_policy),
              "IPPACKET → TRANSPORT → AUTH_RECV_ACCEPT [admin/ssh-from-lan: permit, hard]");
    EXPECT_EQ(to_text(t, host_policy, layer_names::identifier),
              "INBOUND_IPPACKET_V4 → INBOUND_TRANSPORT_V4 → ALE_AUTH_RECV_ACCEPT_V4 [admin/ssh-from-lan: "
              "permit, hard]");
  }
  {
    trace t;
    compiled<host_policy>::run<path::tcp::inbound_syn_no_listener<v4>>(inbound_tcp("10.9.9.9", 9), t);
    EXPECT_EQ(to_text(t, host_policy), "IPPACKET → TRANSPORT_DISCARD [base/stealth-tcp: block]");
  }
  EXPECT_EQ(to_text(trace{}, host_policy), "");

  std::string lines;
  lines += trace_line<host_policy, path::tcp::inbound_syn<v4>>(inbound_tcp("10.1.2.3", 22));
  lines += trace_line<host_policy, path::tcp::inbound_syn<v4>>(inbound_tcp("192.0.2.7", 22));
  lines += trace_line<host_policy, path::tcp::inbound_syn<v4>>(inbound_tcp("192.0.2.7", 443));
  lines += trace_line<host_policy, path::tcp::inbound_syn_no_listener<v4>>(inbound_tcp("10.9.9.9", 9));
  lines += trace_line<host_policy, path::tcp::inbound_data<v4>>(inbound_tcp("192.0.2.7", 22));
  incoming_values frag = inbound_tcp("10.1.2.3", 22);
  lines += trace_line<catalogue_policy, path::inbound_fragment<v4>>(frag);
  lines += trace_line<catalogue_policy, path::reassembled<path::tcp::inbound_syn<v4>>>(frag);
  incoming_values six;
  six.remote_address = *parse_address("fd00::7");
  six.local_address = *parse_address("fd00::2");
  six.ip_protocol = proto::tcp;
  six.local_port = 22;
  six.remote_port = 50000;
  six.flags = flag::is_loopback;
  lines += trace_line<catalogue_policy, path::tcp::inbound_syn<v6>>(six);
  six.flags = 0;
  lines += trace_line<catalogue_policy, path::tcp::inbound_reauthorize<v6>>(six);
  // accept-v6 wants IS_REAUTHORIZE or IS_LOOPBACK: the default blocks, then the discard twin's callout.
  lines += trace_line<catalogue_policy, path::tcp::inbound_syn<v6>>(six);
  six.remote_address = *parse_address("2001:db9::1");  // not-doc (audit) blocks what base did not permit
  lines += trace_line<catalogue_policy, path::tcp::inbound_syn<v6>>(six);
  incoming_values dns;
  dns.ip_protocol = proto::udp;
  dns.remote_port = 53;
  lines += trace_line<catalogue_policy, path::udp::outbound_first_bind<v4>>(dns);
  expect_golden("traces.txt", lines);
}

TEST(RenderTrace, Dot) {
  trace t;
  const path_result r =
      compiled<host_policy>::run<path::tcp::inbound_syn<v4>>(inbound_tcp("10.1.2.3", 22), t);
  expect_golden_dot("trace_host_ssh.dot", to_dot(t, host_policy, r, "tcp 10.1.2.3:40980 > 10.0.0.2:22"));
  trace t2;
  const path_result r2 =
      compiled<host_policy>::run<path::tcp::inbound_syn_no_listener<v4>>(inbound_tcp("10.9.9.9", 9), t2);
  expect_golden_dot("trace_host_stealth.dot", to_dot(t2, host_policy, r2, "tcp 10.9.9.9:40980 > 10.0.0.2:9"));
  const std::string bare = to_dot(t2, host_policy);
  EXPECT_EQ(bare.find("verdict"), std::string::npos);
  EXPECT_NE(bare.find("shape=octagon"), std::string::npos);
}

}  // namespace
