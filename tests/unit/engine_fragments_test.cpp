// Fragmented datagrams whose first fragment is too short for the transport header (traversal.md §5),
// built in memory: a TCP SYN cut after 8 bytes, as in suricata-verify's bug-6887 capture. Expected layer
// lists are §4's rows, written out here.
//   §5 "Outbound packets are classified before fragmentation: the frame holding fragment offset 0 carries
//   the whole datagram's steps; later fragments of the same datagram carry no steps and share its verdict."
//   §5 inbound: every fragment visits INBOUND_IPPACKET, then INBOUND_IPPACKET (IS_FRAGMENT); the frame that
//   completes reassembly carries INBOUND_IPPACKET (IS_REASSEMBLED) and the transport rows of §4.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <strata/engine.hpp>
#include <strata/flow/answers.hpp>
#include <strata/io/format.hpp>

#include "hostile_frames.hpp"

using namespace strata;
using namespace hostile;

namespace {

constexpr sublayer sl{"test", 0x4000};
constexpr auto allow_all = policy();
// Blocks connections to port 8080: only a datagram whose TCP header is known can match it.
constexpr auto no_8080 =
    policy(filter<"no-connect-8080", layer::ale_auth_connect_v4>(sl, action::block, remote_port == 8080),
           filter<"no-connect-8080-v6", layer::ale_auth_connect_v6>(sl, action::block, remote_port == 8080));
using frag_engine = engine<allow_all, no_8080>;

using row = std::vector<std::string>;

std::string flow_of(const record& r) {
  std::string s;
  io::append_flow(s, r.flow);
  return s;
}

row layers(const record& r) {
  row out;
  for (const step_record& s : r.steps) {
    std::string l(short_identifier(s.layer));
    if (s.flags & flag::is_fragment) l += "+IS_FRAGMENT";
    if (s.flags & flag::is_reassembled) l += "+IS_REASSEMBLED";
    out.push_back(l);
  }
  return out;
}

/// `whole` (a transport header and payload) as IPv4 fragments of 8 bytes of data each.
std::vector<bytes> v4_fragments(std::uint32_t src, std::uint32_t dst, const bytes& whole, std::uint16_t id) {
  std::vector<bytes> out;
  for (std::size_t off = 0; off < whole.size(); off += 8) {
    const std::size_t end = std::min(whole.size(), off + 8);
    const bool more = end < whole.size();
    out.push_back(ipv4(src, dst, 6,
                       bytes(whole.begin() + static_cast<std::ptrdiff_t>(off),
                             whole.begin() + static_cast<std::ptrdiff_t>(end)),
                       id, static_cast<std::uint16_t>((more ? 0x2000 : 0) | (off / 8))));
  }
  return out;
}

/// The same as IPv6 fragments (fragment header, next header TCP).
std::vector<bytes> v6_fragments(const address& src, const address& dst, const bytes& whole,
                                std::uint32_t id) {
  std::vector<bytes> out;
  for (std::size_t off = 0; off < whole.size(); off += 8) {
    const std::size_t end = std::min(whole.size(), off + 8);
    const bool more = end < whole.size();
    out.push_back(ipv6(src, dst, 44,
                       frag6(6, static_cast<std::uint16_t>(off), more, id,
                             bytes(whole.begin() + static_cast<std::ptrdiff_t>(off),
                                   whole.begin() + static_cast<std::ptrdiff_t>(end)))));
  }
  return out;
}

/// Classifies `frames` (1-based indexes, 1 ms apart) after the offline pre-pass (strata-classify's
/// scan_answers) has seen them all; one record per frame.
std::vector<record> classify(const host& h, const std::vector<bytes>& frames, std::size_t policy_index,
                             bool pre_pass = true) {
  flow::answer_index answers;
  const std::int64_t t0 = strata_fuzz::base_time_ns;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const io::frame f = frame_of(frames[i], t0 + static_cast<std::int64_t>(i) * 1000000, i + 1);
    if (pre_pass)
      answers.add(packet::parse(f.data, packet::link_type::ethernet, 0), f.data, h, f.index,
                  f.time.time_since_epoch().count());
  }
  frag_engine e{h};
  e.select(policy_index);
  e.use_answers(&answers);
  std::vector<record> out;
  for (std::size_t i = 0; i < frames.size(); ++i)
    out.push_back(e.classify(frame_of(frames[i], t0 + static_cast<std::int64_t>(i) * 1000000, i + 1)));
  return out;
}

host local(const char* a) {
  host h;
  EXPECT_TRUE(h.add_local(a));
  return h;
}

const std::uint32_t host4 = hostile::v4(10, 0, 0, 1), remote4 = hostile::v4(192, 0, 2, 5);
const address host6 = *parse_address("2001:db8::1"), remote6 = *parse_address("2001:db8::5");
// A SYN whose 20-byte header is cut after 8 bytes: the flags sit in the second fragment.
const bytes syn = tcp(40000, 8080, tcp_flags::syn);

// §4 "outbound SYN, new flow (active open)".
const row active_open_v4{"ALE_BIND_REDIRECT_V4", "ALE_RESOURCE_ASSIGNMENT_V4", "ALE_CONNECT_REDIRECT_V4",
                         "ALE_AUTH_CONNECT_V4",  "OUTBOUND_TRANSPORT_V4",      "OUTBOUND_IPPACKET_V4"};
const row active_open_v6{"ALE_BIND_REDIRECT_V6", "ALE_RESOURCE_ASSIGNMENT_V6", "ALE_CONNECT_REDIRECT_V6",
                         "ALE_AUTH_CONNECT_V6",  "OUTBOUND_TRANSPORT_V6",      "OUTBOUND_IPPACKET_V6"};

}  // namespace

TEST(EngineFragments, OutboundFirstFragmentWithoutTcpHeaderCarriesTheDatagramsSteps) {
  std::vector<bytes> frames = v4_fragments(host4, remote4, syn, 7);
  ASSERT_EQ(frames.size(), 3u);
  // The answer: an inbound SYN-ACK, classified on the flow the active open created (§4 "inbound SYN-ACK").
  frames.push_back(ipv4(remote4, host4, 6, tcp(8080, 40000, tcp_flags::syn | tcp_flags::ack, 5000, 1001)));
  const auto r = classify(local("10.0.0.1"), frames, 0);
  ASSERT_EQ(r.size(), frames.size());  // every frame once
  EXPECT_EQ(layers(r[0]), active_open_v4);
  EXPECT_EQ(flow_of(r[0]), "tcp 10.0.0.1:40000 > 192.0.2.5:8080");
  for (std::size_t i : {1u, 2u}) {
    EXPECT_TRUE(r[i].steps.size() == 0) << "frame " << i + 1;
    EXPECT_EQ(r[i].verdict, action::permit) << "frame " << i + 1;
  }
  EXPECT_EQ(layers(r[3]), (row{"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4"}));
}

TEST(EngineFragments, OutboundCutHeaderIsFilteredOnItsPortsAndLaterFragmentsShareTheBlock) {
  const auto r = classify(local("10.0.0.1"), v4_fragments(host4, remote4, syn, 8), 1);
  ASSERT_EQ(r.size(), 3u);
  // §7: a block at ALE_AUTH_CONNECT visits its _DISCARD twin and ends the traversal.
  EXPECT_EQ(layers(r[0]),
            (row{"ALE_BIND_REDIRECT_V4", "ALE_RESOURCE_ASSIGNMENT_V4", "ALE_CONNECT_REDIRECT_V4",
                 "ALE_AUTH_CONNECT_V4", "ALE_AUTH_CONNECT_V4_DISCARD"}));
  for (const record& x : r) {
    EXPECT_EQ(x.verdict, action::block) << "frame " << x.frame;
    EXPECT_EQ(x.filter_name, "no-connect-8080") << "frame " << x.frame;
  }
}

TEST(EngineFragments, OutboundIpv6FirstFragmentWithoutTcpHeader) {
  const auto r = classify(local("2001:db8::1"), v6_fragments(host6, remote6, syn, 0x1234), 0);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(layers(r[0]), active_open_v6);
  EXPECT_TRUE(r[1].steps.size() == 0);
  EXPECT_TRUE(r[2].steps.size() == 0);
}

TEST(EngineFragments, OutboundSynWithPayloadInLaterFragmentsIsStillASyn) {
  // A 20-byte header and 20 bytes of data in 8-byte fragments: the SYN row has no STREAM step (§4).
  const auto r = classify(local("10.0.0.1"),
                          v4_fragments(host4, remote4, tcp(40001, 8080, tcp_flags::syn, 1000, 0, 20), 9), 0);
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(layers(r[0]), active_open_v4);
  for (std::size_t i = 1; i < r.size(); ++i) EXPECT_TRUE(r[i].steps.size() == 0) << "frame " << i + 1;
}

TEST(EngineFragments, InboundFirstFragmentWithoutTcpHeaderIsClassifiedWhenReassembled) {
  const auto r = classify(local("10.0.0.1"), v4_fragments(remote4, host4, syn, 11), 0);
  ASSERT_EQ(r.size(), 3u);
  const row twice{"INBOUND_IPPACKET_V4", "INBOUND_IPPACKET_V4+IS_FRAGMENT"};
  EXPECT_EQ(layers(r[0]), twice);
  EXPECT_EQ(layers(r[1]), twice);
  // §4 "inbound SYN, new flow, listener present", its INBOUND_IPPACKET being the reassembled packet's.
  EXPECT_EQ(layers(r[2]),
            (row{"INBOUND_IPPACKET_V4", "INBOUND_IPPACKET_V4+IS_FRAGMENT",
                 "INBOUND_IPPACKET_V4+IS_REASSEMBLED", "INBOUND_TRANSPORT_V4", "ALE_AUTH_RECV_ACCEPT_V4"}));
  EXPECT_EQ(flow_of(r[2]), "tcp 192.0.2.5:40000 > 10.0.0.1:8080");
}

TEST(EngineFragments, InboundIpv6FirstFragmentWithoutTcpHeaderIsClassifiedWhenReassembled) {
  const auto r = classify(local("2001:db8::1"), v6_fragments(remote6, host6, syn, 0x4321), 0);
  ASSERT_EQ(r.size(), 3u);
  const row twice{"INBOUND_IPPACKET_V6", "INBOUND_IPPACKET_V6+IS_FRAGMENT"};
  EXPECT_EQ(layers(r[0]), twice);
  EXPECT_EQ(layers(r[1]), twice);
  EXPECT_EQ(layers(r[2]),
            (row{"INBOUND_IPPACKET_V6", "INBOUND_IPPACKET_V6+IS_FRAGMENT",
                 "INBOUND_IPPACKET_V6+IS_REASSEMBLED", "INBOUND_TRANSPORT_V6", "ALE_AUTH_RECV_ACCEPT_V6"}));
}
