// strata::flow::flow_table and endpoint_table: lookups against a model, capacity and the eviction order
// of flow_table.hpp's header comment, idle expiry of non-TCP flows (traversal.md §2: 60 s), memory that
// never grows past what the constructor allocated, and SYN floods (issue 5: 1M distinct SYNs against a
// 64k cap; established flows must survive).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <strata/address.hpp>
#include <strata/flow/endpoint_table.hpp>
#include <strata/flow/flow_table.hpp>

namespace {

using namespace strata::flow;
using strata::address;
using strata::family;
using namespace std::chrono_literals;

constexpr std::int64_t s(std::int64_t secs) { return secs * 1'000'000'000; }

address v4(std::uint32_t a) { return address::from_v4(a); }
address v6(std::uint64_t hi, std::uint64_t lo) { return address{hi, lo}; }

flow_key tcp_key(std::uint32_t remote, std::uint16_t rport, std::uint16_t lport = 80) {
  return {family::v4, 6, v4(0x0a000002), v4(remote), lport, rport};
}
flow_key udp_key(std::uint32_t remote, std::uint16_t rport, std::uint16_t lport = 53) {
  return {family::v4, 17, v4(0x0a000002), v4(remote), lport, rport};
}

std::tuple<int, std::uint8_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, int, int> tie(
    const flow_key& k) {
  return {static_cast<int>(k.fam),
          k.protocol,
          k.local.hi,
          k.local.lo,
          k.remote.hi,
          k.remote.lo,
          k.local_port,
          k.remote_port};
}
struct key_less {
  bool operator()(const flow_key& a, const flow_key& b) const { return tie(a) < tie(b); }
};

/// Resident set size of this process, from /proc/self/statm (0 where unavailable).
std::size_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  const int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE)) : 0;
}

// Every occupied slot is found by its own key, and iteration visits exactly size() entries.
void check_consistent(flow_table& t) {
  std::size_t n = 0;
  for (flow_entry& e : t) {
    ++n;
    EXPECT_EQ(t.find(e.key()), &e);
  }
  EXPECT_EQ(n, t.size());
}

// ------------------------------------------------------------------------------------------------

TEST(FlowTable, EntryIsCompactAndTableCosts64BytesPerFlow) {
  EXPECT_EQ(sizeof(flow_entry), 56u);
  EXPECT_EQ(sizeof(endpoint_entry), 32u);
  // buckets = capacity * 8/7 (rounded up): a full table is 7/8 occupied.
  EXPECT_EQ(detail::open_table<flow_entry>::buckets_for(7), 8u);
  EXPECT_EQ(detail::open_table<flow_entry>::buckets_for(1'000'000), 1'142'858u);
  flow_table t(flow_table_config{.capacity = 1u << 16});
  EXPECT_EQ(t.capacity(), 65536u);
  EXPECT_EQ(t.bucket_count(), 65536u + 9363u);
  EXPECT_LE(t.memory_bytes(), 64u * t.capacity() + sizeof(flow_entry));  // 64 B/flow, rounding aside
}

TEST(FlowTable, InsertFindErase) {
  flow_table t(100);
  const flow_key k = tcp_key(0xc0000201, 40000);
  EXPECT_EQ(t.find(k), nullptr);
  auto r = t.insert(k, s(1));
  ASSERT_NE(r.entry, nullptr);
  EXPECT_TRUE(r.inserted);
  EXPECT_EQ(r.evicted, eviction::none);
  EXPECT_EQ(r.entry->key(), k);
  EXPECT_EQ(r.entry->state, tcp_state::none);
  EXPECT_EQ(r.entry->policy_epoch, 0u);
  EXPECT_EQ(r.entry->user, 0u);
  EXPECT_FALSE(r.entry->syn_ack_seen || r.entry->fin_local || r.entry->fin_remote || r.entry->reauth_pending);
  EXPECT_EQ(static_cast<std::int64_t>(r.entry->last_seen), s(1));
  EXPECT_EQ(t.find(k), r.entry);
  EXPECT_EQ(t.size(), 1u);

  // Present: returned unchanged, not inserted again.
  r.entry->state = tcp_state::established;
  auto again = t.insert(k, s(2));
  EXPECT_FALSE(again.inserted);
  EXPECT_EQ(again.entry, t.find(k));
  EXPECT_EQ(again.entry->state, tcp_state::established);
  EXPECT_EQ(t.size(), 1u);

  // Each key field matters.
  std::vector<flow_key> others;
  for (int f = 0; f < 7; ++f) {
    flow_key o = k;
    switch (f) {
      case 0:
        o.fam = family::v6;
        break;
      case 1:
        o.protocol = 17;
        break;
      case 2:
        o.local = v4(0x0a000003);
        break;
      case 3:
        o.remote = v4(0xc0000202);
        break;
      case 4:
        o.local_port = 81;
        break;
      case 5:
        o.remote_port = 40001;
        break;
      case 6:
        std::swap(o.local_port, o.remote_port);
        break;
    }
    EXPECT_EQ(t.find(o), nullptr) << f;
    others.push_back(o);
  }
  for (const auto& o : others) EXPECT_TRUE(t.insert(o, s(3)).inserted);
  EXPECT_EQ(t.size(), 8u);
  check_consistent(t);

  t.erase(t.find(k));
  EXPECT_EQ(t.find(k), nullptr);
  EXPECT_FALSE(t.erase(k));
  for (const auto& o : others) EXPECT_NE(t.find(o), nullptr);
  EXPECT_EQ(t.stats().inserted, 8u);
  EXPECT_EQ(t.stats().erased, 1u);
}

TEST(FlowTable, V4AndV6KeysWithTheSameLowBitsDiffer) {
  flow_table t(16);
  flow_key a{family::v4, 17, v4(1), v4(2), 1, 2};
  flow_key b{family::v6, 17, v6(0, 1), v6(0, 2), 1, 2};  // ::1 and ::2: same 128-bit values as the v4 ones
  t.insert(a, 0);
  EXPECT_EQ(t.find(b), nullptr);
  t.insert(b, 0);
  EXPECT_EQ(t.find(a)->fam(), family::v4);
  EXPECT_EQ(t.find(b)->fam(), family::v6);
}

TEST(FlowTable, AgreesWithAModelUnderRandomInsertsAndErases) {
  // Small key space, many collisions on home buckets, wrap-around at the table's end: 300k operations.
  for (std::size_t cap : {1u, 2u, 7u, 64u, 1000u}) {
    flow_table t(flow_table_config{.capacity = cap, .non_tcp_timeout = 1000000s});
    std::set<flow_key, key_less> model;
    std::mt19937_64 rng(cap);
    const std::uint32_t keys = static_cast<std::uint32_t>(cap * 2 + 3);
    for (int i = 0; i < 60000; ++i) {
      const flow_key k = tcp_key(static_cast<std::uint32_t>(rng() % keys), 1000);
      const unsigned op = rng() % 3;
      if (op == 0) {
        auto r = t.insert(k, s(i));
        ASSERT_NE(r.entry, nullptr);
        r.entry->state = tcp_state::established;  // keeps the victim choice purely by age
        EXPECT_EQ(r.entry->key(), k);
        EXPECT_EQ(r.inserted, !model.count(k));
        if (r.evicted != eviction::none) {
          ASSERT_TRUE(model.count(r.evicted_key));
          model.erase(r.evicted_key);
        }
        model.insert(k);
      } else if (op == 1) {
        EXPECT_EQ(t.erase(k), model.erase(k) == 1);
      } else {
        EXPECT_EQ(t.find(k) != nullptr, model.count(k) == 1);
      }
      ASSERT_EQ(t.size(), model.size());
      ASSERT_LE(t.size(), cap);
    }
    check_consistent(t);
    for (const auto& k : model) EXPECT_NE(t.find(k), nullptr);
  }
}

TEST(FlowTable, NeverGrowsPastItsCapacity) {
  flow_table t(100);
  const std::size_t mem = t.memory_bytes();
  for (std::uint32_t i = 0; i < 1000; ++i) {
    auto r = t.insert(udp_key(i, 1), s(i));
    ASSERT_NE(r.entry, nullptr);
    EXPECT_EQ(r.evicted != eviction::none, i >= 100) << i;
    ASSERT_LE(t.size(), 100u);
  }
  EXPECT_EQ(t.size(), 100u);
  EXPECT_EQ(t.memory_bytes(), mem);
  const flow_stats st = t.stats();
  EXPECT_EQ(st.inserted, 1000u);
  EXPECT_EQ(st.evicted() + st.expired, 900u);
  EXPECT_EQ(st.size, 100u);
  EXPECT_EQ(st.capacity, 100u);
  check_consistent(t);
}

TEST(FlowTable, EvictsExpiredThenEmbryonicThenClosingThenIdleOldest) {
  // The sample covers the whole table, so the order is exact.
  flow_table t(flow_table_config{.capacity = 8, .eviction_sample = 1000});
  struct seed_flow {
    char name;
    flow_key k;
    tcp_state st;
    std::int64_t seen;
  };
  const std::vector<seed_flow> flows = {
      {'A', udp_key(1, 1), tcp_state::none, s(0)},          // non-TCP, idle 61 s at t=61: expired
      {'B', udp_key(2, 1), tcp_state::none, s(50)},         // non-TCP, idle 11 s: live
      {'C', tcp_key(3, 1), tcp_state::syn_sent, s(10)},     // embryonic, younger
      {'D', tcp_key(4, 1), tcp_state::syn_received, s(5)},  // embryonic, older
      {'E', tcp_key(5, 1), tcp_state::closing, s(1)},       // closing, older
      {'F', tcp_key(6, 1), tcp_state::closed, s(2)},        // closed, younger
      {'G', tcp_key(7, 1), tcp_state::established, s(0)},   // established, oldest
      {'H', tcp_key(8, 1), tcp_state::established, s(3)},   // established
  };
  for (const auto& f : flows) {
    auto r = t.insert(f.k, f.seen);
    ASSERT_TRUE(r.inserted);
    r.entry->state = f.st;
  }
  ASSERT_EQ(t.size(), 8u);
  const std::vector<std::pair<char, eviction>> expected = {
      {'A', eviction::expired}, {'D', eviction::embryonic}, {'C', eviction::embryonic},
      {'E', eviction::closing}, {'F', eviction::closing},   {'G', eviction::idle},
      {'H', eviction::idle},    {'B', eviction::idle}};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    // New flows: live UDP seen now (the youngest of all).
    auto r = t.insert(udp_key(100 + static_cast<std::uint32_t>(i), 9), s(61));
    ASSERT_TRUE(r.inserted);
    EXPECT_EQ(r.evicted, expected[i].second) << i;
    const auto victim =
        std::find_if(flows.begin(), flows.end(), [&](const seed_flow& f) { return f.k == r.evicted_key; });
    ASSERT_NE(victim, flows.end()) << i;
    EXPECT_EQ(victim->name, expected[i].first) << i;
    EXPECT_EQ(t.find(r.evicted_key), nullptr);
  }
  const flow_stats st = t.stats();
  EXPECT_EQ(st.expired, 1u);
  EXPECT_EQ(st.evicted_embryonic, 2u);
  EXPECT_EQ(st.evicted_other, 2u);
  EXPECT_EQ(st.evicted_idle, 3u);
  EXPECT_EQ(st.size, 8u);
}

TEST(FlowTable, ExpiresIdleNonTcpFlowsAfter60Seconds) {
  flow_table t(1000);
  for (std::uint32_t i = 0; i < 100; ++i) {
    t.insert(udp_key(i, 5000), s(0));
    t.insert(tcp_key(i, 5000), s(0)).entry->state = tcp_state::established;
  }
  // A flow that saw traffic at 30 s lives on.
  t.find(udp_key(7, 5000))->last_seen = s(30);
  const std::size_t b = t.bucket_count();
  EXPECT_EQ(t.expire(s(60), b), 0u);  // exactly 60 s idle: not yet "idle longer than 60 s"
  EXPECT_EQ(t.size(), 200u);
  EXPECT_EQ(t.expire(s(60) + 1000, b), 99u);
  EXPECT_EQ(t.size(), 101u);
  EXPECT_NE(t.find(udp_key(7, 5000)), nullptr);
  for (std::uint32_t i = 0; i < 100; ++i) EXPECT_NE(t.find(tcp_key(i, 5000)), nullptr);  // TCP never expires
  EXPECT_EQ(t.expire(s(91), b), 1u);
  EXPECT_EQ(t.stats().expired, 100u);
  check_consistent(t);
}

TEST(FlowTable, ExpiryIsIncremental) {
  flow_table t(flow_table_config{.capacity = 5000, .expire_budget = 8});
  for (std::uint32_t i = 0; i < 5000; ++i) t.insert(udp_key(i, 1), s(0));
  // Each call examines at most `budget` buckets, so removes at most that many flows.
  std::size_t calls = 0;
  while (t.size() > 0) {
    const std::size_t removed = t.expire(s(100));
    ASSERT_LE(removed, 8u);
    ++calls;
    ASSERT_LT(calls, 10 * t.bucket_count());
  }
  // Within about one sweep of the table: a call advances 8 buckets or removes 8 flows.
  EXPECT_GE(calls, 5000u / 8);
  EXPECT_LE(calls, (t.bucket_count() + 5000) / 8 + 2);
  EXPECT_EQ(t.stats().expired, 5000u);
  EXPECT_EQ(t.expire(s(100), 1), 0u);
}

TEST(FlowTable, LastSeenIsNanosecondsStoredToTheMicrosecond) {
  flow_table t(4);
  flow_entry* e = t.insert(udp_key(1, 1), 1'234'567'891).entry;
  EXPECT_EQ(static_cast<std::int64_t>(e->last_seen), 1'234'567'000);
  e->last_seen = std::int64_t{1'700'000'000'123'456'789};  // 2023
  EXPECT_EQ(e->last_seen.ns(), 1'700'000'000'123'456'000);
  std::int64_t idle = std::int64_t{1'700'000'060'123'456'000} - e->last_seen;
  EXPECT_EQ(idle, s(60));
  e->last_seen = std::int64_t{-5};
  EXPECT_EQ(e->last_seen.ns(), 0);
  // Writing the time keeps the table's probe distance (the entry stays findable).
  EXPECT_EQ(t.find(udp_key(1, 1)), e);
  // io::timestamp overloads.
  const strata::io::timestamp ts{std::chrono::nanoseconds(s(5))};
  EXPECT_EQ(t.insert(udp_key(2, 1), ts).entry->last_seen.ns(), s(5));
}

TEST(FlowTable, IterationAndTheReauthorizationEpoch) {
  flow_table t(500);
  std::set<flow_key, key_less> keys;
  for (std::uint32_t i = 0; i < 300; ++i) {
    flow_key k = i % 2 ? tcp_key(i, 7) : udp_key(i, 7);
    keys.insert(k);
    t.insert(k, s(1)).entry->policy_epoch = 1;
  }
  std::set<flow_key, key_less> seen;
  for (const flow_entry& e : std::as_const(t)) seen.insert(e.key());
  EXPECT_EQ(seen, keys);
  // The engine's scheme: bump the global epoch; a flow with an older epoch is pending.
  std::uint32_t epoch = 1;
  ++epoch;
  std::size_t pending = 0;
  for (const flow_entry& e : std::as_const(t)) pending += e.policy_epoch != epoch;
  EXPECT_EQ(pending, 300u);
  t.find(tcp_key(1, 7))->policy_epoch = epoch;  // reauthorized by its next packet
  pending = 0;
  t.for_each([&](flow_entry& e) { pending += e.policy_epoch != epoch; });
  EXPECT_EQ(pending, 299u);
  // Or explicit marks.
  t.for_each([](flow_entry& e) { e.reauth_pending = true; });
  for (const flow_entry& e : std::as_const(t)) EXPECT_TRUE(e.reauth_pending);
}

TEST(FlowTable, FlagsAndOrigin) {
  flow_table t(4);
  flow_entry* e = t.insert(tcp_key(1, 2), 0).entry;
  e->set_origin(flow_origin::inbound);
  EXPECT_TRUE(e->inbound_origin);
  EXPECT_EQ(e->origin(), flow_origin::inbound);
  e->syn_ack_seen = true;
  e->fin_remote = true;
  EXPECT_TRUE(e->syn_ack_seen);
  EXPECT_FALSE(e->fin_local);
  EXPECT_TRUE(e->fin_remote);
  EXPECT_EQ(e->key(), tcp_key(1, 2));  // flags live beside the key, never in it
  e->inbound_origin = false;
  EXPECT_EQ(e->origin(), flow_origin::outbound);
}

// Issue 5: 1M distinct SYNs from random sources against a 64k table. Memory stays at what the
// constructor allocated, every eviction is counted, and the established flows all survive.
TEST(FlowTable, SynFloodOfOneMillionKeepsEstablishedFlows) {
  constexpr std::size_t cap = 65536;
  constexpr std::uint32_t established = 5000;
  constexpr std::uint32_t live_udp = 1000;
  constexpr std::uint32_t syns = 1'000'000;
  flow_table t(cap);
  const std::size_t mem = t.memory_bytes();
  for (std::uint32_t i = 0; i < established; ++i) {
    flow_entry* e = t.insert(tcp_key(0x0b000000 + i, 443, 22), s(1)).entry;
    e->state = tcp_state::established;
  }
  const std::size_t rss_before = resident_bytes();
  std::mt19937_64 rng(5);
  std::int64_t now = s(2);
  std::uint64_t new_syns = 0;
  for (std::uint32_t i = 0; i < syns; ++i) {
    now += 1000;          // one SYN per microsecond
    if (i % 1000 == 0) {  // the established flows keep talking now and then
      t.find(tcp_key(0x0b000000 + (i / 1000) % established, 443, 22))->last_seen = now;
      if (i / 1000 < live_udp) t.insert(udp_key(0x0c000000 + i / 1000, 53), now);
    }
    const std::uint64_t r = rng();
    flow_key k{family::v4,
               6,
               v4(0x0a000002),
               v4(static_cast<std::uint32_t>(r)),
               80,
               static_cast<std::uint16_t>(r >> 32)};
    auto res = t.insert(k, now);
    ASSERT_NE(res.entry, nullptr);
    if (!res.inserted) continue;  // a repeated random key (a retransmission)
    ++new_syns;
    res.entry->state = tcp_state::syn_received;
    res.entry->inbound_origin = true;
    t.expire(now);
  }
  const std::size_t rss_after = resident_bytes();
  const flow_stats st = t.stats();
  EXPECT_EQ(st.size, cap);
  EXPECT_EQ(t.memory_bytes(), mem);
  for (std::uint32_t i = 0; i < established; ++i)
    ASSERT_NE(t.find(tcp_key(0x0b000000 + i, 443, 22)), nullptr)
        << "established flow " << i << " was evicted";
  // The SYNs evicted each other (oldest first), never an established flow nor a live UDP flow.
  EXPECT_EQ(st.evicted_idle, 0u);
  EXPECT_EQ(st.evicted_other, 0u);
  EXPECT_EQ(st.expired, 0u);
  EXPECT_EQ(st.inserted, established + live_udp + new_syns);
  EXPECT_GT(new_syns, 999'000u);
  EXPECT_EQ(st.evicted_embryonic, st.inserted - cap);
  for (std::uint32_t i = 0; i < live_udp; ++i) EXPECT_NE(t.find(udp_key(0x0c000000 + i, 53)), nullptr);
  if (rss_before != 0) {
    EXPECT_LT(rss_after, rss_before + (1u << 20)) << "resident memory grew during the flood";
  }
  std::cout << "[flood] 1M SYNs, cap " << cap << ": table " << mem << " bytes (" << mem / cap
            << " B/flow), evicted_embryonic " << st.evicted_embryonic << ", RSS " << rss_before << " -> "
            << rss_after << " bytes\n";
}

// Issue 4: bytes per tracked flow and resident memory with 1M flows.
TEST(FlowTable, OneMillionFlowsResident) {
  constexpr std::size_t flows = 1'000'000;
  const std::size_t rss0 = resident_bytes();
  flow_table t(flows);
  const std::size_t rss1 = resident_bytes();
  std::mt19937_64 rng(1);
  for (std::size_t i = 0; i < flows; ++i) {
    const std::uint64_t r = rng();
    flow_key k{
        family::v4, 17, v4(0x0a000002), v4(static_cast<std::uint32_t>(i)), 53, static_cast<std::uint16_t>(r)};
    ASSERT_TRUE(t.insert(k, s(1)).inserted);
  }
  const std::size_t rss2 = resident_bytes();
  EXPECT_EQ(t.size(), flows);
  EXPECT_EQ(t.stats().evicted() + t.stats().expired + t.stats().insert_failed, 0u);
  EXPECT_EQ(t.memory_bytes(), 1'142'858u * 56u);
  EXPECT_LE(t.memory_bytes(), 64u * flows + 64u);
  if (rss0 != 0) {
    EXPECT_LT(rss2 - rss0, t.memory_bytes() + (4u << 20));
    EXPECT_LT(rss2 - rss1, std::size_t{1} << 20) << "inserting grew resident memory";
  }
  std::cout << "[memory] 1M flows: table " << t.memory_bytes()
            << " bytes = " << static_cast<double>(t.memory_bytes()) / flows << " B/flow; RSS +"
            << (rss1 - rss0) << " bytes at construction, +" << (rss2 - rss1) << " bytes for 1M inserts\n";
}

// ------------------------------------------------------------------------------------------------

TEST(EndpointTable, BindContainsUnbind) {
  endpoint_table t(16);
  const endpoint_key a{family::v4, 17, v4(0x0a000002), 5353};
  EXPECT_FALSE(t.contains(a));
  auto r = t.bind(a, s(1));
  ASSERT_NE(r.entry, nullptr);
  EXPECT_TRUE(r.inserted);
  EXPECT_EQ(r.entry->key(), a);
  EXPECT_TRUE(t.contains(a));
  auto again = t.bind(a, s(5));
  EXPECT_FALSE(again.inserted);
  EXPECT_EQ(again.entry->last_used.ns(), s(5));
  EXPECT_FALSE(t.contains({family::v4, 6, v4(0x0a000002), 5353}));   // protocol
  EXPECT_FALSE(t.contains({family::v6, 17, v4(0x0a000002), 5353}));  // family
  EXPECT_FALSE(t.contains({family::v4, 17, v4(0x0a000003), 5353}));  // address
  EXPECT_FALSE(t.contains({family::v4, 17, v4(0x0a000002), 5354}));  // port
  EXPECT_TRUE(t.unbind(a));
  EXPECT_FALSE(t.contains(a));
  EXPECT_FALSE(t.unbind(a));
  EXPECT_EQ(t.stats().inserted, 1u);
  EXPECT_EQ(t.stats().erased, 1u);
}

TEST(EndpointTable, EvictsTheLeastRecentlyUsedWhenFull) {
  endpoint_table t(endpoint_table_config{.capacity = 4, .eviction_sample = 100});
  for (std::uint16_t p = 1; p <= 4; ++p) t.bind({family::v4, 17, v4(1), p}, s(p));
  t.bind({family::v4, 17, v4(1), 1}, s(10));  // port 1 used again: port 2 is now the oldest
  auto r = t.bind({family::v4, 17, v4(1), 5}, s(11));
  EXPECT_TRUE(r.inserted);
  EXPECT_TRUE(r.evicted);
  EXPECT_EQ(r.evicted_key.local_port, 2);
  EXPECT_FALSE(t.contains({family::v4, 17, v4(1), 2}));
  r = t.bind({family::v4, 17, v4(1), 6}, s(12));
  EXPECT_EQ(r.evicted_key.local_port, 3);
  EXPECT_EQ(t.size(), 4u);
  EXPECT_EQ(t.stats().evicted, 2u);
  // And it never grows.
  for (std::uint16_t p = 100; p < 10000; ++p) t.bind({family::v6, 6, v6(1, p), p}, s(p));
  EXPECT_EQ(t.size(), 4u);
  EXPECT_EQ(t.stats().evicted, 2u + 9900u);
  std::size_t n = 0;
  for (const endpoint_entry& e : std::as_const(t)) {
    ++n;
    EXPECT_EQ(t.find(e.key()), &e);
  }
  EXPECT_EQ(n, 4u);
}

}  // namespace

TEST(FlowTable, PacedExpirySweepsOncePerSecondOfTheClock) {
  flow_table t(flow_table_config{.capacity = 5000, .expire_budget = 8});
  for (std::uint32_t i = 0; i < 5000; ++i) t.insert(udp_key(i, 1), s(0));
  // A clock that does not move gets one slice, then nothing: no sweeping per packet.
  const std::int64_t t0 = s(100);
  EXPECT_LE(t.expire_paced(t0), 8u);
  std::size_t removed = 0;
  for (int i = 0; i < 1000; ++i) removed += t.expire_paced(t0 + 1);
  EXPECT_EQ(removed, 0u);
  // One call per millisecond: the whole table within two seconds (slices of ~6 buckets; a removal
  // re-examines its bucket), each call within its budget.
  std::size_t calls = 0;
  while (t.size() > 0 && calls < 2000) {
    ++calls;
    ASSERT_LE(t.expire_paced(t0 + static_cast<std::int64_t>(calls) * 1'000'000), 8u);
  }
  EXPECT_EQ(t.size(), 0u);
  EXPECT_GT(calls, 500u);  // paced, not at once
  EXPECT_EQ(t.stats().expired, 5000u);
}

TEST(FlowTable, PacedExpiryNeverSweepsMoreThanExpireOnEveryCall) {
  flow_table t(flow_table_config{.capacity = 5000, .expire_budget = 8});
  for (std::uint32_t i = 0; i < 5000; ++i) t.insert(udp_key(i, 1), s(0));
  // A clock jumping 10 s per call owes whole sweeps, but the calls examine at most expire_budget buckets
  // each on average (what is not used by one call is left to the next).
  std::size_t total = 0;
  for (std::size_t k = 1; k <= 100; ++k) {
    total += t.expire_paced(s(100) + static_cast<std::int64_t>(k) * s(10));
    ASSERT_LE(total, 8 * k);
  }
  EXPECT_GT(total, 0u);
  // A clock set back by more than the period restarts the pace instead of stopping the sweep.
  t.expire_paced(s(5000));
  std::size_t removed = 0;
  for (std::int64_t k = 0; k < 3000; ++k) removed += t.expire_paced(s(2000) + k * 1'000'000);
  EXPECT_GT(removed, 0u);
  check_consistent(t);
}
