// The engine on the bundled capture (tests/data/strata-demo.pcap, described frame by frame in
// tests/data/strata-demo.md): policy switches and reauthorization (traversal.md §8), MAC layers (§9),
// loopback (§1), and the views. Expected layer lists are the spec's rows, written out here.
// strata-needs: pcap
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <range/v3/view/filter.hpp>

#include <strata/engine.hpp>
#include <strata/io/pcap_file.hpp>
#include <strata/views.hpp>

using namespace strata;

namespace {

constexpr auto allow_all = policy();

constexpr sublayer sl{"test", 0x4000};
// Fails every reauthorization of TCP flows to or from port 8080/9000 and UDP 5354.
constexpr auto deny_known =
    policy(filter<"deny-accept-8080", layer::ale_auth_recv_accept_v4>(sl, action::block, local_port == 8080),
           filter<"deny-accept-5354", layer::ale_auth_recv_accept_v4>(sl, action::block, local_port == 5354),
           filter<"deny-connect-9000", layer::ale_auth_connect_v4>(sl, action::block, remote_port == 9000));
// Lets them pass again, by a named filter.
constexpr auto permit_known = policy(filter<"ok-accept", layer::ale_auth_recv_accept_v4>(sl, action::permit),
                                     filter<"ok-connect", layer::ale_auth_connect_v4>(sl, action::permit));
// MAC layers: ARP frames are blocked at INBOUND_MAC_FRAME_ETHERNET.
constexpr auto no_arp =
    policy(filter<"no-arp", layer::inbound_mac_frame_ethernet>(sl, action::block, ether_type == 0x0806));

using test_engine = engine<allow_all, deny_known, permit_known, no_arp>;

host demo_host() {
  host h;
  for (const char* a : {"10.99.1.2", "10.99.2.1", "fd99:1::2", "fd99:2::1"}) EXPECT_TRUE(h.add_local(a));
  return h;
}

std::string capture_path() { return std::string(STRATA_SOURCE_DIR) + "/tests/data/strata-demo.pcap"; }

std::vector<std::string> layers(const record& r) {
  std::vector<std::string> out;
  for (const step_record& s : r.steps) {
    std::string l(short_identifier(s.layer));
    // The discard twin sees the same packet, flags included (as the path tests expect).
    if (s.flags & flag::is_reauthorize) l += "+IS_REAUTHORIZE";
    if (s.flags & flag::is_loopback) l += "+IS_LOOPBACK";
    out.push_back(l);
  }
  return out;
}

/// Classifies the capture, switching policies before the given frames; returns records by frame.
std::map<std::uint64_t, record> run(std::map<std::uint64_t, std::size_t> switches, std::size_t first = 0) {
  auto reader = io::pcap_reader::open(capture_path());
  EXPECT_TRUE(bool(reader));
  test_engine e{demo_host(), {.link = reader->link_type()}};
  e.select(first);
  std::map<std::uint64_t, record> out;
  for (const io::frame& f : *reader) {
    if (auto it = switches.find(f.index); it != switches.end()) e.select(it->second);
    out[f.index] = e.classify(f);
  }
  return out;
}

using row = std::vector<std::string>;

}  // namespace

// §8 "success, inbound TCP: INBOUND_IPPACKET, INBOUND_TRANSPORT, ALE_AUTH_RECV_ACCEPT, STREAM"
TEST(EngineReauthorization, InboundTcpSuccess) {
  auto r = run({{10, 2}});  // frame 10: inbound data of the inbound-created flow to 8080
  EXPECT_EQ(layers(r[10]), (row{"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4",
                                "ALE_AUTH_RECV_ACCEPT_V4+IS_REAUTHORIZE", "STREAM_V4"}));
  EXPECT_EQ(r[10].verdict, action::permit);
  EXPECT_EQ(r[10].filter_name, "ok-accept");
  // Reauthorized once: the next packet of the flow takes its normal row again.
  EXPECT_EQ(layers(r[12]), (row{"STREAM_V4", "OUTBOUND_TRANSPORT_V4", "OUTBOUND_IPPACKET_V4"}));
}

// §8 "failure: …, ALE_AUTH_RECV_ACCEPT, ALE_AUTH_RECV_ACCEPT_DISCARD, and the flow is torn down"
TEST(EngineReauthorization, InboundTcpFailureTearsTheFlowDown) {
  auto r = run({{10, 1}});
  EXPECT_EQ(layers(r[10]),
            (row{"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4", "ALE_AUTH_RECV_ACCEPT_V4+IS_REAUTHORIZE",
                 "ALE_AUTH_RECV_ACCEPT_V4_DISCARD+IS_REAUTHORIZE"}));
  EXPECT_EQ(r[10].verdict, action::block);
  EXPECT_EQ(r[10].filter_name, "deny-accept-8080");
  // Torn down: frame 11 belongs to no flow any more, so it is not reauthorized again.
  for (const auto& l : layers(r[11])) EXPECT_EQ(l.find("IS_REAUTHORIZE"), std::string::npos);
}

// §8 "in either direction … Outbound packets mirror this at ALE_AUTH_CONNECT before STREAM": an
// outbound packet of an inbound-created flow is reauthorized at the flow's origin, RECV_ACCEPT.
TEST(EngineReauthorization, OutboundPacketOfInboundCreatedFlow) {
  auto r = run({{12, 2}});  // frame 12: outbound data on the flow to 8080
  EXPECT_EQ(layers(r[12]), (row{"ALE_AUTH_RECV_ACCEPT_V4+IS_REAUTHORIZE", "STREAM_V4",
                                "OUTBOUND_TRANSPORT_V4", "OUTBOUND_IPPACKET_V4"}));
  EXPECT_EQ(r[12].verdict, action::permit);
}

TEST(EngineReauthorization, OutboundCreatedFlowSuccessAndFailure) {
  auto ok = run({{21, 2}});  // frame 21: outbound data on the host's own connection to 9000
  EXPECT_EQ(layers(ok[21]), (row{"ALE_AUTH_CONNECT_V4+IS_REAUTHORIZE", "STREAM_V4", "OUTBOUND_TRANSPORT_V4",
                                 "OUTBOUND_IPPACKET_V4"}));
  EXPECT_EQ(ok[21].filter_name, "ok-connect");
  auto bad = run({{21, 1}});
  EXPECT_EQ(layers(bad[21]),
            (row{"ALE_AUTH_CONNECT_V4+IS_REAUTHORIZE", "ALE_AUTH_CONNECT_V4_DISCARD+IS_REAUTHORIZE"}));
  EXPECT_EQ(bad[21].verdict, action::block);
  // An inbound packet of that flow would have been reauthorized at its origin, AUTH_CONNECT.
  auto in = run({{22, 2}});  // frame 22: inbound pure ACK
  EXPECT_EQ(layers(in[22]),
            (row{"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4", "ALE_AUTH_CONNECT_V4+IS_REAUTHORIZE"}));
}

// §8 "success, inbound UDP: INBOUND_IPPACKET, INBOUND_TRANSPORT, ALE_AUTH_RECV_ACCEPT, DATAGRAM_DATA"
TEST(EngineReauthorization, InboundUdpSuccessAndFailure) {
  auto ok = run({{33, 2}});  // frame 33: the second datagram to the listener on 5354
  EXPECT_EQ(layers(ok[33]), (row{"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4",
                                 "ALE_AUTH_RECV_ACCEPT_V4+IS_REAUTHORIZE", "DATAGRAM_DATA_V4"}));
  auto bad = run({{33, 1}});
  EXPECT_EQ(layers(bad[33]),
            (row{"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4", "ALE_AUTH_RECV_ACCEPT_V4+IS_REAUTHORIZE",
                 "ALE_AUTH_RECV_ACCEPT_V4_DISCARD+IS_REAUTHORIZE"}));
  EXPECT_EQ(bad[33].verdict, action::block);
}

TEST(EngineReauthorization, NoSwitchNoReauthorization) {
  auto r = run({});
  for (const auto& [frame, rec] : r)
    for (const auto& l : layers(rec)) EXPECT_EQ(l.find("IS_REAUTHORIZE"), std::string::npos) << frame;
}

// §9: with filters at the MAC layers every frame visits them first; a block there ends it.
TEST(EngineMacLayers, EveryFrameVisitsThemFirstWhenThePolicyHasMacFilters) {
  auto r = run({}, 3);
  // Frames 1 and 2 are ARP: no IP layer, blocked at the Ethernet MAC layer.
  EXPECT_EQ(layers(r[1]), (row{"INBOUND_MAC_FRAME_NATIVE", "INBOUND_MAC_FRAME_ETHERNET"}));
  EXPECT_EQ(r[1].verdict, action::block);
  EXPECT_EQ(r[1].filter_name, "no-arp");
  // Frame 3 (inbound echo request) and 4 (outbound echo reply).
  EXPECT_EQ(layers(r[3]), (row{"INBOUND_MAC_FRAME_NATIVE", "INBOUND_MAC_FRAME_ETHERNET",
                               "INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4", "ALE_AUTH_RECV_ACCEPT_V4",
                               "ALE_FLOW_ESTABLISHED_V4", "DATAGRAM_DATA_V4"}));
  EXPECT_EQ(layers(r[4]), (row{"OUTBOUND_MAC_FRAME_ETHERNET", "OUTBOUND_MAC_FRAME_NATIVE", "DATAGRAM_DATA_V4",
                               "OUTBOUND_TRANSPORT_V4", "OUTBOUND_IPPACKET_V4"}));
  EXPECT_EQ(r[4].verdict, action::permit);
  // "A trace lists them only when they were evaluated": not under a policy without MAC filters.
  auto plain = run({});
  EXPECT_EQ(layers(plain[1]), row{});
  EXPECT_EQ(layers(plain[3]).front(), "INBOUND_IPPACKET_V4");
}

// §1: source and destination both local: classified once outbound and once inbound, IS_LOOPBACK.
TEST(EngineDirection, LoopbackIsClassifiedOutboundThenInbound) {
  auto reader = io::pcap_reader::open(capture_path());
  ASSERT_TRUE(bool(reader));
  host h = demo_host();
  ASSERT_TRUE(h.add_local("10.99.1.1"));  // make the client local too: its traffic with the host is loopback
  test_engine e{h, {.link = reader->link_type()}};
  std::map<std::uint64_t, record> r;
  for (const io::frame& f : *reader) r[f.index] = e.classify(f);
  EXPECT_EQ(r[7].dir, traffic_direction::loopback);  // the client's SYN to 8080
  EXPECT_EQ(layers(r[7]), (row{"ALE_BIND_REDIRECT_V4+IS_LOOPBACK", "ALE_RESOURCE_ASSIGNMENT_V4+IS_LOOPBACK",
                               "ALE_CONNECT_REDIRECT_V4+IS_LOOPBACK", "ALE_AUTH_CONNECT_V4+IS_LOOPBACK",
                               "OUTBOUND_TRANSPORT_V4+IS_LOOPBACK", "OUTBOUND_IPPACKET_V4+IS_LOOPBACK",
                               "INBOUND_IPPACKET_V4+IS_LOOPBACK", "INBOUND_TRANSPORT_V4+IS_LOOPBACK",
                               "ALE_AUTH_RECV_ACCEPT_V4+IS_LOOPBACK"}));
}

TEST(EngineViews, ClassifyOnceEvenWhenViewsDereferenceTwice) {
  auto reader = io::pcap_reader::open(capture_path());
  ASSERT_TRUE(bool(reader));
  test_engine e{demo_host(), {.link = reader->link_type()}};
  e.select(1);  // deny_known: blocks nothing without a reauthorization, so everything is permitted
  std::uint64_t n = 0, last = 0;
  for (const record& r :
       *reader | views::classify(e) | ranges::views::filter([](const record&) { return true; })) {
    EXPECT_EQ(r.frame, last + 1);  // in order, each frame once
    last = r.frame;
    ++n;
  }
  EXPECT_EQ(n, 158u);
  EXPECT_EQ(e.counters().frames, 158u);
  EXPECT_EQ(e.counters().permitted + e.counters().blocked + e.counters().malformed, e.counters().frames);
}
