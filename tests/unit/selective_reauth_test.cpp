// A policy switch that reauthorizes only the flows it can affect (issue 7, item 2): engine::select(i, pred)
// with analysis.hpp's affected_flows(diff(from, to)), on the bundled capture (tests/data/strata-demo.md
// and .frames.tsv describe its frames). Expectations are §8's rows (traversal.md) and §4's rows for flows
// that are not marked; which flows the change affects follows from the two policies' filters.
// strata-needs: pcap
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <strata/analysis.hpp>
#include <strata/engine.hpp>
#include <strata/io/pcap_file.hpp>

using namespace strata;

namespace {

constexpr auto open_policy = policy();
constexpr sublayer sl{"test", 0x4000};
// Changes the ALE authorization of exactly the UDP flows to local port 5354 (and TCP 8080).
constexpr auto deny_services =
    policy(filter<"deny-accept-8080", layer::ale_auth_recv_accept_v4>(sl, action::block, local_port == 8080),
           filter<"deny-accept-5354", layer::ale_auth_recv_accept_v4>(sl, action::block, local_port == 5354));

using test_engine = engine<open_policy, deny_services>;

std::vector<std::string> layers(const record& r) {
  std::vector<std::string> out;
  for (const step_record& s : r.steps)
    out.push_back(std::string(short_identifier(s.layer)) +
                  (s.flags & flag::is_reauthorize ? "+IS_REAUTHORIZE" : ""));
  return out;
}
using row = std::vector<std::string>;

struct switch_run {
  std::map<std::uint64_t, record> records;
  std::size_t marked = 0;
  std::size_t flows_at_switch = 0;
};

/// Classifies the capture; before frame `at`, switches to deny_services, selectively or (§8) every flow.
switch_run run(std::uint64_t at, bool selective) {
  auto reader = io::pcap_reader::open(std::string(STRATA_SOURCE_DIR) + "/tests/data/strata-demo.pcap");
  EXPECT_TRUE(bool(reader));
  host h;
  for (const char* a : {"10.99.1.2", "10.99.2.1", "fd99:1::2", "fd99:2::1"}) EXPECT_TRUE(h.add_local(a));
  test_engine e{h, {.link = reader->link_type()}};
  const policy_diff d = diff(open_policy, deny_services);
  switch_run o;
  for (const io::frame& f : *reader) {
    if (f.index == at) {
      o.flows_at_switch = e.flows().size();
      if (selective)
        o.marked = e.select(1, affected_flows(d));
      else
        e.select(1);
    }
    o.records[f.index] = e.classify(f);
  }
  return o;
}

}  // namespace

// Frame 5: the second inbound echo request of the ICMP flow created at frame 3. deny_services has no
// filter an ICMP flow can match, so a selective switch leaves it authorized: §4's row for an inbound
// packet of an existing non-TCP flow. A §8 switch reauthorizes it.
TEST(SelectiveReauthorization, UnaffectedFlowKeepsItsAuthorization) {
  const switch_run sel = run(5, true);
  EXPECT_EQ(layers(sel.records.at(5)),
            (row{"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4", "DATAGRAM_DATA_V4"}));
  EXPECT_EQ(sel.records.at(5).verdict, action::permit);
  EXPECT_EQ(sel.marked, 0u);
  EXPECT_GE(sel.flows_at_switch, 1u);

  const switch_run all = run(5, false);
  EXPECT_EQ(layers(all.records.at(5)), (row{"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4",
                                            "ALE_AUTH_RECV_ACCEPT_V4+IS_REAUTHORIZE", "DATAGRAM_DATA_V4"}));
}

// Frame 33: the second datagram of the inbound-created UDP flow to 5354 (frames 31-34). The change blocks
// that flow at ALE_AUTH_RECV_ACCEPT: it is marked, and §8's failure row follows.
TEST(SelectiveReauthorization, AffectedFlowIsReauthorizedAndFails) {
  const switch_run sel = run(33, true);
  EXPECT_EQ(layers(sel.records.at(33)),
            (row{"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4", "ALE_AUTH_RECV_ACCEPT_V4+IS_REAUTHORIZE",
                 "ALE_AUTH_RECV_ACCEPT_V4_DISCARD+IS_REAUTHORIZE"}));
  EXPECT_EQ(sel.records.at(33).verdict, action::block);
  EXPECT_EQ(sel.records.at(33).filter_name, "deny-accept-5354");
  EXPECT_GE(sel.marked, 1u);
  // The ICMP flow of frames 3-6 is still in the table (60 s idle expiry) and is not marked.
  EXPECT_LT(sel.marked, sel.flows_at_switch);
}

// The predicate itself: a diff confined to RECV_ACCEPT never marks an outbound-created flow, whose
// authorization is at ALE_AUTH_CONNECT; a flow to 5354 from any remote is inside the changed region.
TEST(SelectiveReauthorization, PredicateFollowsTheDiff) {
  const policy_diff d = diff(open_policy, deny_services);
  ASSERT_TRUE(d.changes(layer_id::ale_auth_recv_accept_v4));
  EXPECT_FALSE(d.changes(layer_id::ale_auth_connect_v4));
  flow::flow_table t(64);
  const address local = "10.99.1.2"_v4, remote = "192.0.2.9"_v4;
  flow::flow_entry* in = t.insert({family::v4, proto::udp, local, remote, 5354, 4000}, 0).entry;
  flow::flow_entry* other = t.insert({family::v4, proto::udp, local, remote, 5355, 4000}, 0).entry;
  flow::flow_entry* out = t.insert({family::v4, proto::udp, local, remote, 5354, 4001}, 0).entry;
  ASSERT_TRUE(in && other && out);
  in->inbound_origin = true;
  other->inbound_origin = true;
  out->inbound_origin = false;
  const auto affected = affected_flows(d);
  EXPECT_TRUE(affected(*in));
  EXPECT_FALSE(affected(*other));
  EXPECT_FALSE(affected(*out));
}
