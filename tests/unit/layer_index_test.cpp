// Large layers are evaluated through an index of their exact conditions (compiled<P>::evaluate_indexed):
// checked against the generic evaluator on random packets aimed at the policy's values, on every path,
// with and without a trace. The policy (index_policy.hpp, generated) mixes what the index files with what
// it cannot, every action, hard permits, weights and sublayers.
#include <random>
#include <set>
#include <span>

#include <gtest/gtest.h>

#include "index_policy.hpp"

namespace {

using namespace strata;
using index_test::large;
using pipeline = compiled<large>;

// Which layers the index serves is part of the contract: large layers without callouts, when at least
// half of their filters test a field for one value.
static_assert(pipeline::indexed<layer_id::inbound_transport_v4>);
static_assert(pipeline::indexed<layer_id::ale_auth_recv_accept_v4>);
static_assert(pipeline::indexed<layer_id::ale_auth_connect_v6>);
static_assert(!pipeline::indexed<layer_id::outbound_transport_v4>, "a callout: evaluated filter by filter");
static_assert(!pipeline::indexed<layer_id::inbound_transport_v6>, "only ranges: nothing to index");
static_assert(!compiled<large>::indexed<layer_id::inbound_ippacket_v4>, "no filters");

// An address inside `p` (random host bits), or anywhere.
address inside(std::mt19937_64& rng, const prefix& p) {
  const address m = p.mask();
  const address host{rng() & ~m.hi, rng() & ~m.lo};
  if (p.fam == family::v4)
    return address::from_v4(static_cast<std::uint32_t>(p.addr.lo | (host.lo & 0xffffffff)));
  return {p.addr.hi | host.hi, p.addr.lo | host.lo};
}

// Values aimed at the policy's (its value pools), with some random ones.
incoming_values random_values(std::mt19937_64& rng, bool v6) {
  using index_test::ports;
  const auto pick = [&](auto const& pool) { return pool[rng() % std::size(pool)]; };
  incoming_values v;
  v.local_port = rng() % 5 ? pick(ports) : static_cast<std::uint16_t>(rng());
  v.remote_port = rng() % 5 ? pick(ports) : static_cast<std::uint16_t>(rng());
  v.ip_protocol =
      rng() % 5 ? static_cast<std::uint8_t>(rng() % 2 ? 6 : 17) : static_cast<std::uint8_t>(rng());
  if (rng() % 3 == 0) v.flags |= flag::is_loopback;
  if (rng() % 3 == 0) v.flags |= flag::is_reauthorize;
  const auto& pool = v6 ? std::span<const prefix>(index_test::v6_prefixes)
                        : std::span<const prefix>(index_test::v4_prefixes);
  v.local_address = inside(rng, pick(pool));
  v.remote_address = rng() % 5 ? inside(rng, pick(pool))
                     : v6      ? address{rng(), rng()}
                               : address::from_v4(static_cast<std::uint32_t>(rng()));
  return v;
}

TEST(LayerIndex, IndexedLayersDecideAsTheGenericEvaluator) {
  std::mt19937_64 rng(0x1dec5);
  int mismatches = 0, blocked = 0, permitted = 0;
  std::set<int> deciding;  // filters that decided a layer: the samples must reach many of them
  for (int i = 0; i < 1500; ++i) {
    const incoming_values v4 = random_values(rng, false), v6 = random_values(rng, true);
    for (const path_key& key : all_path_keys) {
      const incoming_values& v = key.fam == family::v4 ? v4 : v6;
      trace tc, tg;
      const path_result c = pipeline::classify(key, v, tc);
      const path_result g = classify_generic(large, key, v, tg);
      bool same = c == g && tc.size() == tg.size() && pipeline::classify(key, v) == c;
      for (std::size_t s = 0; same && s < tc.size(); ++s) same = tc[s] == tg[s];
      if (!same && ++mismatches <= 5)
        ADD_FAILURE() << "sample " << i << " path " << name(key.kind)
                      << (key.fam == family::v6 ? " v6" : " v4") << ": compiled " << name(c.verdict) << " by "
                      << c.filter << ", generic " << name(g.verdict) << " by " << g.filter;
      for (const step_record& s : tc)
        if (s.filter >= 0) deciding.insert(s.filter);
      (c.verdict == action::block ? blocked : permitted)++;
    }
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_GT(blocked, 1500);
  EXPECT_GT(permitted, 1500);
  // Of the 480 filters, those that can decide (permit or block, not masked by an earlier one): far more
  // than a handful, or the check says little about the index.
  EXPECT_GT(deciding.size(), 100u);
  RecordProperty("deciding_filters", static_cast<int>(deciding.size()));
}

// The index is used at compile time too: a static_assert can ask a large layer for its verdict.
static_assert(pipeline::evaluate<layer_id::inbound_transport_v4>(incoming_values{.local_port = 22}) ==
              evaluate_layer(large, layer_id::inbound_transport_v4, incoming_values{.local_port = 22}));

}  // namespace

namespace {

// The printed pipeline says which layers go through an index: the reader of a policy sees what was compiled.
TEST(LayerIndex, ThePipelineTextSaysWhichLayersAreIndexed) {
  const std::string in = pipeline_text<large>(path::tcp::inbound_syn<v4>{});
  EXPECT_NE(in.find("150 filters, outlined, indexed on their exact conditions\n"), std::string::npos) << in;
  const std::string out = pipeline_text<large>(path::tcp::outbound_data<v4>{});
  EXPECT_NE(out.find("60 filters, outlined\n"), std::string::npos) << out;  // a callout: filter by filter
}

}  // namespace
