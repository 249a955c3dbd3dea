// Floods through the whole engine (issue 5, item 4), with Ethernet frames built by hand in memory:
//
// * 1M distinct SYNs from random sources to a listening port, against a flow table capped at 65,536
//   flows: the flow table never holds more than its cap, resident memory does not grow during the
//   flood (the engine allocates everything at construction), the established flows set up before it
//   (real three-way handshakes, both directions) all survive with their state, and every eviction is
//   counted in the flow table's stats.
// * A fragment flood: first fragments that never complete, from many sources, of every size, over
//   IPv4 and IPv6 (the datagram table's bound), then large datagrams that never get their last fragment
//   (the pool's bound), then one source alone (its share): the reassembler's pool and datagram table
//   never exceed their bounds, evictions, timeouts and limit drops are counted, resident memory does not
//   grow, and a legitimate datagram still completes.
//
// Budgets (printed with the figures): the engine's whole memory is its tables' — flow table (64 bytes
// per flow, 4.2 MB at 65,536), endpoint table, reassembler (4 MiB pool + 64 KiB output + descriptors) —
// plus 2 MiB of slack at construction; during a flood RSS grows by less than 1 MiB.
//
// In the sanitizer build (ASan + UBSan, scripts/test's "asan") the floods are scaled down (200k SYNs,
// 50k fragments: `hostile::sanitized`) and the RSS bounds are printed but not asserted (shadow memory
// and the allocator's quarantine grow RSS there); every other check holds as in the optimized builds.
#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "unit/hostile_frames.hpp"

namespace {

using namespace hostile;
using strata::address;
using strata::family;
using engine_type = strata::verdict_engine<policies::server, policies::observe>;

constexpr std::uint32_t local = v4(10, 0, 0, 1);
constexpr std::size_t flow_cap = 65536;
constexpr std::uint32_t syn_flood = sanitized ? 200'000 : 1'000'000;
constexpr std::uint32_t fragment_flood = sanitized ? 50'000 : 400'000;

strata::host flood_host() {
  strata::host h;
  h.add_local(strata::prefix{address::from_v4(local), 32, family::v4});
  h.add_local("2001:db8::1");
  h.add_hint({6, 80, true});  // someone listens on tcp/80
  return h;
}

struct clock_ns {
  std::int64_t t = strata_fuzz::base_time_ns;
  std::int64_t tick(std::int64_t d = 1000) { return t += d; }
};

/// A frame buffer patched in place (no allocation per flood frame).
struct syn_template {
  bytes b = ipv4(0, local, 6, tcp(0, 80, tcp_flags::syn, 12345));
  static constexpr std::size_t l3 = 14, l4 = 34;
  const bytes& with(std::uint32_t src, std::uint16_t sport) {
    put32(b, l3 + 12, src);
    ipv4_checksum(b, l3, 20);
    put16(b, l4, sport);
    return b;
  }
};

TEST(Flood, OneMillionSynsFromRandomSourcesAgainstAFlowCap) {
  const std::size_t rss0 = resident_bytes();
  auto e = std::make_unique<engine_type>(flood_host(), strata::engine_config{.flow_capacity = flow_cap});
  const std::size_t rss1 = resident_bytes();
  const std::size_t tables =
      e->flows().memory_bytes() + e->reassembly().memory_bytes() +
      strata::flow::endpoint_table(strata::engine_config{}.endpoint_capacity).memory_bytes();
  clock_ns clock;
  std::uint64_t index = 0;
  const auto send = [&](const bytes& b) {
    const auto before = e->counters();
    const strata::record r = e->classify(frame_of(b, clock.tick(), ++index));
    if (const char* bad = strata_fuzz::check_record(*e, r, before, index))
      ADD_FAILURE() << bad << " at frame " << index;
    return r;
  };

  // Established flows first, with real handshakes: clients connecting to us on port 80, and our
  // own connections out to port 443.
  constexpr std::uint32_t clients = 2000, servers = 2000;
  const auto client = [](std::uint32_t i) { return v4(198, 18, 0, 0) + i; };
  const auto server = [](std::uint32_t i) { return v4(203, 0, 113, 0) + i % 250 + (i / 250) * 256; };
  for (std::uint32_t i = 0; i < clients; ++i) {
    const auto sport = static_cast<std::uint16_t>(40000 + i % 20000);
    EXPECT_FALSE(send(ipv4(client(i), local, 6, tcp(sport, 80, tcp_flags::syn, 100))).blocked());
    send(ipv4(local, client(i), 6, tcp(80, sport, tcp_flags::syn | tcp_flags::ack, 900, 101)));
    send(ipv4(client(i), local, 6, tcp(sport, 80, tcp_flags::ack, 101, 901)));
  }
  for (std::uint32_t i = 0; i < servers; ++i) {
    const auto sport = static_cast<std::uint16_t>(50000 + i % 10000);
    send(ipv4(local, server(i), 6, tcp(sport, 443, tcp_flags::syn, 100)));
    send(ipv4(server(i), local, 6, tcp(443, sport, tcp_flags::syn | tcp_flags::ack, 900, 101)));
    send(ipv4(local, server(i), 6, tcp(sport, 443, tcp_flags::ack, 101, 901)));
  }
  const auto established_key = [&](bool inbound, std::uint32_t i) {
    return inbound ? strata::flow::flow_key{family::v4,
                                            6,
                                            address::from_v4(local),
                                            address::from_v4(client(i)),
                                            80,
                                            static_cast<std::uint16_t>(40000 + i % 20000)}
                   : strata::flow::flow_key{family::v4,
                                            6,
                                            address::from_v4(local),
                                            address::from_v4(server(i)),
                                            static_cast<std::uint16_t>(50000 + i % 10000),
                                            443};
  };
  for (std::uint32_t i = 0; i < clients; ++i) {
    const auto* f = e->flows().find(established_key(true, i));
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(f->state, strata::flow::tcp_state::established);
  }
  const std::uint64_t setup_frames = index;

  // The flood: distinct random sources (and ports) to the listening port.
  const std::size_t rss2 = resident_bytes();
  const auto t_start = std::chrono::steady_clock::now();
  std::mt19937_64 rng(20231114);
  syn_template syn;
  std::uint64_t peak_flows = 0;
  for (std::uint32_t i = 0; i < syn_flood; ++i) {
    const std::uint64_t r = rng();
    std::uint32_t src = static_cast<std::uint32_t>(r);
    if (src == local) ++src;
    send(syn.with(src, static_cast<std::uint16_t>(1024 + (r >> 32) % 60000)));
    if ((i & 0xffff) == 0) peak_flows = std::max<std::uint64_t>(peak_flows, e->flows().size());
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  const std::size_t rss3 = resident_bytes();

  // Every established flow survived, with its state: a policy switch then reauthorizes each of them
  // on its next packet (a flow the table had lost would be picked up mid-stream, not reauthorized).
  e->select(1);
  const auto reauthorized = e->counters().reauthorized;
  for (std::uint32_t i = 0; i < clients; ++i) {
    const auto* f = e->flows().find(established_key(true, i));
    ASSERT_NE(f, nullptr) << "established inbound flow " << i << " was evicted by the flood";
    EXPECT_EQ(f->state, strata::flow::tcp_state::established);
    send(ipv4(client(i), local, 6,
              tcp(static_cast<std::uint16_t>(40000 + i % 20000), 80, tcp_flags::ack | tcp_flags::psh, 101,
                  901, 10)));
  }
  for (std::uint32_t i = 0; i < servers; ++i) {
    ASSERT_NE(e->flows().find(established_key(false, i)), nullptr)
        << "established outbound flow " << i << " was evicted";
    send(ipv4(server(i), local, 6,
              tcp(443, static_cast<std::uint16_t>(50000 + i % 10000), tcp_flags::ack | tcp_flags::psh, 901,
                  101, 10)));
  }
  EXPECT_EQ(e->counters().reauthorized - reauthorized, clients + servers);

  const strata::flow::flow_stats st = e->flows().stats();
  const auto& c = e->counters();
  EXPECT_EQ(c.frames, index);
  EXPECT_EQ(c.malformed + c.permitted + c.blocked, c.frames);
  EXPECT_LE(peak_flows, flow_cap);
  EXPECT_EQ(st.size, flow_cap);
  EXPECT_EQ(st.insert_failed, 0u);
  // Every flow that left the table is counted: evicted (by class), expired or erased.
  EXPECT_EQ(st.inserted - st.size, st.evicted() + st.expired + st.erased);
  EXPECT_EQ(st.evicted_idle, 0u) << "an established flow was evicted";
  EXPECT_GE(st.evicted_embryonic, syn_flood - flow_cap);
  EXPECT_EQ(e->flows().memory_bytes(),
            strata::flow::detail::open_table<strata::flow::flow_entry>::buckets_for(flow_cap) *
                sizeof(strata::flow::flow_entry));
  std::cout << "[ flood ] " << syn_flood << " SYNs (after " << setup_frames << " handshake frames) in "
            << seconds << " s (" << static_cast<std::uint64_t>(syn_flood / seconds)
            << " frames/s); flows held " << st.size << "/" << flow_cap << ", evicted " << st.evicted_embryonic
            << " embryonic, " << st.evicted_idle << " established; " << clients + servers
            << " established flows survived\n"
            << "[ flood ] memory: tables " << tables << " bytes (flow table " << e->flows().memory_bytes()
            << "); RSS " << rss0 << " before the engine, " << rss1 << " after (+" << (rss1 - rss0) << "), "
            << rss2 << " before the flood, " << rss3 << " after (+" << static_cast<std::int64_t>(rss3 - rss2)
            << ")\n";
  if (!sanitized && rss0 != 0) {
    EXPECT_LT(rss1 - rss0, tables + (2u << 20)) << "the engine holds more than its tables";
    EXPECT_LT(rss3, rss2 + (1u << 20)) << "resident memory grew during the SYN flood";
  }
}

TEST(Flood, FragmentsThatNeverCompleteFromManySources) {
  const std::size_t rss0 = resident_bytes();
  auto e = std::make_unique<engine_type>(flood_host(), strata::engine_config{});
  const std::size_t rss1 = resident_bytes();
  const strata::flow::reassembly_limits lim = e->reassembly().limits();
  clock_ns clock;
  std::uint64_t index = 0;
  const auto send = [&](const bytes& b, std::int64_t dt = 2000) {
    const auto before = e->counters();
    const strata::record r = e->classify(frame_of(b, clock.tick(dt), ++index));
    if (const char* bad = strata_fuzz::check_record(*e, r, before, index))
      ADD_FAILURE() << bad << " at frame " << index;
    return r;
  };

  std::mt19937_64 rng(42);
  const address v6_local = *strata::parse_address("2001:db8::1");
  // Pre-built fragments of several sizes (8 to 1480 data bytes), patched in place per frame.
  std::vector<bytes> v4_frags, v6_frags;
  for (std::size_t data : {8u, 64u, 256u, 600u, 1480u}) {
    v4_frags.push_back(ipv4(0, local, 17, bytes(data, 0xab), 0, 0x2000));  // offset 0, MF: never completed
    v6_frags.push_back(ipv6(*strata::parse_address("2001:db8:f::1"), v6_local, 44,
                            frag6(17, 0, true, 0, bytes(data, 0xcd))));
  }
  const std::size_t rss2 = resident_bytes();
  const auto t_start = std::chrono::steady_clock::now();
  std::uint64_t peak_bytes = 0, peak_datagrams = 0;
  for (std::uint32_t i = 0; i < fragment_flood; ++i) {
    const std::uint64_t r = rng();
    const bool six = (r & 7) == 0;
    bytes& b = six ? v6_frags[(r >> 3) % v6_frags.size()] : v4_frags[(r >> 3) % v4_frags.size()];
    if (six) {
      put32(b, 14 + 8 + 12, static_cast<std::uint32_t>(r >> 16));  // source: random low 32 bits
      put32(b, 14 + 40 + 4, static_cast<std::uint32_t>(r >> 24));  // identification
    } else {
      std::uint32_t src = static_cast<std::uint32_t>(r >> 16);
      if (src == local) ++src;
      put32(b, 14 + 12, src);
      put16(b, 14 + 4, static_cast<unsigned>(r >> 48));  // identification
      ipv4_checksum(b, 14, 20);
    }
    // Mostly back to back; now and then a pause that lets the oldest datagrams time out.
    send(b, (i % 50000 == 49999) ? 31'000'000'000 : 2000);
    const auto s = e->reassembly().stats();
    peak_bytes = std::max<std::uint64_t>(peak_bytes, s.bytes_in_use);
    peak_datagrams = std::max<std::uint64_t>(peak_datagrams, s.datagrams_in_use);
  }
  // Large datagrams that never complete: 300 sources, each 40 fragments of 1480 bytes (59,200 bytes held
  // per datagram, no last fragment): the pool, not the datagram table, is the bound now.
  std::uint64_t pool_frames = 0;
  for (std::uint32_t d = 0; d < 300; ++d) {
    bytes b = ipv4(v4(100, 64, 0, 0) + d * 7, local, 17, bytes(1480, 0xef), static_cast<std::uint16_t>(d), 0);
    for (unsigned k = 0; k < 40; ++k) {
      put16(b, 14 + 6, 0x2000 | (k * 1480 / 8));  // MF, offset k * 1480
      ipv4_checksum(b, 14, 20);
      send(b);
      ++pool_frames;
      peak_bytes = std::max<std::uint64_t>(peak_bytes, e->reassembly().stats().bytes_in_use);
    }
  }
  // One source alone cannot take more than its share: 10,000 datagrams from one address.
  for (std::uint32_t i = 0; i < 10000; ++i) {
    bytes& b = v4_frags.back();
    put32(b, 14 + 12, v4(192, 0, 2, 66));
    put16(b, 14 + 4, i);
    ipv4_checksum(b, 14, 20);
    send(b);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  const std::size_t rss3 = resident_bytes();
  const auto st = e->reassembly().stats();

  // A legitimate datagram still completes.
  const bytes a = ipv4(v4(192, 0, 2, 77), local, 17, udp(5000, 53, 8), 4242, 0x2000);
  const bytes z = ipv4(v4(192, 0, 2, 77), local, 17, bytes(8, 1), 4242, 2);
  send(a);
  const strata::record done = send(z);
  EXPECT_TRUE(done.reassembled);
  EXPECT_FALSE(done.malformed());

  const auto& c = e->counters();
  EXPECT_EQ(c.frames, index);
  EXPECT_EQ(c.malformed + c.permitted + c.blocked, c.frames);
  EXPECT_LE(peak_bytes, st.memory_bytes);
  EXPECT_LE(st.peak_bytes, st.memory_bytes);
  EXPECT_LE(peak_datagrams, lim.max_datagrams);
  EXPECT_LE(st.peak_datagrams, lim.max_datagrams);
  EXPECT_EQ(st.fragments, fragment_flood + pool_frames + 10000u);
  EXPECT_GT(st.peak_bytes, st.memory_bytes * 3 / 4);  // the large datagrams did fill the pool
  EXPECT_GT(st.evicted, 0u);
  EXPECT_GT(st.timed_out, 0u);
  EXPECT_GT(st.dropped_limits, 0u);  // the lone source hit its share
  EXPECT_EQ(st.completed, 0u);
  std::cout << "[ flood ] " << fragment_flood + pool_frames + 10000 << " never-completing fragments in "
            << seconds << " s: pool peak " << st.peak_bytes << "/" << st.memory_bytes
            << " bytes, datagrams peak " << st.peak_datagrams << "/" << lim.max_datagrams << ", evicted "
            << st.evicted << ", timed out " << st.timed_out << ", dropped by limits " << st.dropped_limits
            << "; reassembler " << e->reassembly().memory_bytes() << " bytes; RSS " << rss0 << " -> " << rss1
            << " (engine) -> " << rss2 << " -> " << rss3 << " (flood, +"
            << static_cast<std::int64_t>(rss3 - rss2) << ")\n";
  if (!sanitized && rss0 != 0) {
    EXPECT_LT(rss1 - rss0, e->flows().memory_bytes() + e->reassembly().memory_bytes() + (3u << 20));
    EXPECT_LT(rss3, rss2 + (1u << 20)) << "resident memory grew during the fragment flood";
  }
}

}  // namespace
