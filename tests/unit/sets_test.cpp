// Run-time sets (strata/set_data.hpp, strata/sets.hpp): each lookup structure against a brute-force
// reference on random data; set files; the condition syntax; replacement during classification
// (every frame has one record, the flows whose tuple is in old XOR new are reauthorized per
// traversal.md §8 and the others are not); concurrent replacement while a thread classifies.
#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <strata/engine.hpp>
#include <strata/render.hpp>
#include <strata/set_file.hpp>
#include <strata/sets.hpp>
#include <strata/views.hpp>

#include "hostile_frames.hpp"

using namespace strata;

namespace {

// ---- lookup structures vs brute force ------------------------------------------------------------

bool brute_contains(const std::vector<prefix>& set, family f, address a) {
  for (const prefix& p : set)
    if (p.fam == f && (a & p.mask()) == (p.addr & p.mask())) return true;
  return false;
}

prefix random_prefix(std::mt19937_64& rng, family f, unsigned min_len, unsigned max_len) {
  prefix p;
  p.fam = f;
  p.length = static_cast<std::uint8_t>(std::uniform_int_distribution<unsigned>(min_len, max_len)(rng));
  // Addresses in a narrow region so that prefixes overlap and queries hit.
  if (f == family::v4) {
    p.addr = address::from_v4(0x0a000000u | static_cast<std::uint32_t>(rng() & 0x000fffffu));
  } else {
    p.addr = address{0x20010db800000000ull | (rng() & 0xffff), rng() & 0xfffff};
  }
  p.addr = p.addr & p.mask();
  return p;
}

address random_query(std::mt19937_64& rng, family f, const std::vector<prefix>& set) {
  // Half near an entry's ends (first, last, one before, one after), half anywhere in the region.
  if (!set.empty() && rng() % 2) {
    const prefix& p = set[rng() % set.size()];
    const address m = p.mask();
    address lo = p.addr & m;
    address hi =
        f == family::v4 ? address{0, (lo.lo | ~m.lo) & 0xffffffffu} : address{lo.hi | ~m.hi, lo.lo | ~m.lo};
    switch (rng() % 4) {
      case 0:
        return lo;
      case 1:
        return hi;
      case 2:
        return f == family::v4 ? address{0, (lo.lo - 1) & 0xffffffffu}
                               : address{lo.hi - (lo.lo == 0), lo.lo - 1};
      default:
        return f == family::v4 ? address{0, (hi.lo + 1) & 0xffffffffu}
                               : address{hi.hi + (hi.lo == ~0ull), hi.lo + 1};
    }
  }
  return random_prefix(rng, f, f == family::v4 ? 32 : 128, f == family::v4 ? 32 : 128).addr;
}

struct address_case {
  std::size_t size;
  unsigned min_len_v4, min_len_v6;
  set_lookup expected;
};

class AddressLookup : public ::testing::TestWithParam<address_case> {};

TEST_P(AddressLookup, AgreesWithBruteForce) {
  const address_case c = GetParam();
  std::mt19937_64 rng(c.size * 7919 + c.min_len_v4);
  for (family f : {family::v4, family::v6}) {
    std::vector<prefix> entries;
    const unsigned full = f == family::v4 ? 32 : 128;
    for (std::size_t i = 0; i < c.size; ++i)
      entries.push_back(random_prefix(rng, f, f == family::v4 ? c.min_len_v4 : c.min_len_v6, full));
    const set_data d = set_data::addresses(entries);
    if (c.expected != set_lookup::small_array) {  // merged overlaps may leave a random set small
      EXPECT_EQ(name(d.lookup(f)), name(c.expected));
    }
    const std::size_t queries =
        std::min<std::size_t>(20000, 200'000'000 / (c.size + 1));  // brute force is O(n)
    for (std::size_t q = 0; q < queries; ++q) {
      const address a = random_query(rng, f, entries);
      ASSERT_EQ(d.contains(f, a), brute_contains(entries, f, a)) << to_string(a, f) << " size " << c.size;
    }
    // The other family is empty.
    const family other = f == family::v4 ? family::v6 : family::v4;
    EXPECT_FALSE(d.contains(other, random_query(rng, other, {})));
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, AddressLookup,
                         ::testing::Values(address_case{0, 32, 128, set_lookup::empty},
                                           address_case{10, 20, 100, set_lookup::small_array},
                                           address_case{16, 32, 128, set_lookup::small_array},
                                           address_case{1000, 32, 128, set_lookup::hash},
                                           address_case{1000, 24, 112, set_lookup::intervals},
                                           address_case{100000, 32, 128, set_lookup::hash},
                                           address_case{100000, 28, 120, set_lookup::intervals}));

TEST(AddressLookup, MixedFamiliesAndExtremes) {
  const std::vector<prefix> entries{*parse_prefix("0.0.0.0/0"),
                                    *parse_prefix("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
                                    *parse_prefix("::")};
  const set_data d = set_data::addresses(entries);
  EXPECT_TRUE(d.contains(family::v4, address::from_v4(0xffffffffu)));
  EXPECT_TRUE(d.contains(family::v6, address{~0ull, ~0ull}));
  EXPECT_TRUE(d.contains(family::v6, address{}));
  EXPECT_FALSE(d.contains(family::v6, address{0, 1}));
  EXPECT_FALSE(d.contains(family::none, address{}));
  // A hashed set holding the all-ones address (the hash's empty marker).
  std::vector<prefix> many;
  for (std::uint32_t i = 0; i < 100; ++i) many.push_back(prefix{address::from_v4(i * 3), 32, family::v4});
  many.push_back(prefix{address::from_v4(0xffffffffu), 32, family::v4});
  const set_data h = set_data::addresses(many);
  EXPECT_EQ(h.lookup(family::v4), set_lookup::hash);
  EXPECT_TRUE(h.contains(family::v4, address::from_v4(0xffffffffu)));
  EXPECT_TRUE(h.contains(family::v4, address::from_v4(297)));
  EXPECT_FALSE(h.contains(family::v4, address::from_v4(298)));
  EXPECT_FALSE(h.contains(family::v4, address::from_v4(0xfffffffeu)));
}

TEST(PortLookup, AgreesWithBruteForce) {
  std::mt19937_64 rng(42);
  for (std::size_t size : {0u, 1u, 10u, 16u, 17u, 1000u, 30000u}) {
    for (bool ranges : {false, true}) {
      std::vector<port_range> entries;
      std::vector<bool> brute(65536, false);
      for (std::size_t i = 0; i < size; ++i) {
        const auto lo = static_cast<std::uint16_t>(rng() % 65536);
        const auto hi =
            ranges ? static_cast<std::uint16_t>(std::min<std::uint64_t>(65535, lo + rng() % 50)) : lo;
        entries.emplace_back(lo, hi);
        for (std::uint32_t p = lo; p <= hi; ++p) brute[p] = true;
      }
      const set_data d = set_data::ports(entries);
      EXPECT_EQ(d.kind(), set_kind::port);
      EXPECT_EQ(d.size(), size);
      if (size >= 1000 && !ranges) {  // (random ranges may merge into 16 intervals or fewer: a small array)
        EXPECT_EQ(d.port_lookup(), set_lookup::bitmap);
      }
      for (std::uint32_t p = 0; p < 65536; ++p)
        ASSERT_EQ(d.contains_port(p), brute[p]) << p << " size " << size;
      EXPECT_FALSE(d.contains_port(65536));
    }
  }
}

// ---- set files -----------------------------------------------------------------------------------

TEST(SetFile, ParsesEntriesAndComments) {
  const auto r = parse_set("# blocklist\n10.0.0.0/8\n  192.0.2.7  # one host\n\n2001:db8::/32\r\n",
                           set_kind::address, "x.txt");
  ASSERT_TRUE(r) << r.error;
  EXPECT_EQ(r.data->size(), 3u);
  EXPECT_TRUE(r.data->contains(family::v4, address::from_v4(0x0a010203u)));
  EXPECT_TRUE(r.data->contains(family::v4, address::from_v4(0xc0000207u)));
  EXPECT_FALSE(r.data->contains(family::v4, address::from_v4(0xc0000208u)));
  EXPECT_TRUE(r.data->contains(family::v6, *parse_address("2001:db8:1::1")));
  const auto p = parse_set("22\n8000-8080\n", set_kind::port, "p.txt");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p.data->contains_port(22));
  EXPECT_TRUE(p.data->contains_port(8042));
  EXPECT_FALSE(p.data->contains_port(8081));
}

TEST(SetFile, BadLineNamesFileAndLine) {
  auto r = parse_set("10.0.0.1\n# ok\n10.0.0.300\n", set_kind::address, "block.txt");
  EXPECT_FALSE(r);
  EXPECT_FALSE(r.io);
  EXPECT_EQ(r.error, "block.txt:3: not an IPv4/IPv6 address or prefix: '10.0.0.300'");
  r = parse_set("10.0.0.1/8\n", set_kind::address, "b");  // host bits set: a typo, as in a filter
  EXPECT_EQ(r.error, "b:1: not an IPv4/IPv6 address or prefix: '10.0.0.1/8'");
  r = parse_set("22\n80-70\n", set_kind::port, "ports");
  EXPECT_EQ(r.error, "ports:2: not a port or port range (low-high): '80-70'");
  r = parse_set("65536\n", set_kind::port, "ports");
  EXPECT_EQ(r.error, "ports:1: not a port or port range (low-high): '65536'");
  r = load_set_file("/nonexistent/strata-set", set_kind::port);
  EXPECT_FALSE(r);
  EXPECT_TRUE(r.io);
}

// ---- the condition syntax and the policy's numbering -----------------------------------------------

constexpr sublayer sl{"sets", 0x4000};
constexpr auto blocklist = policy(filter<"block-in", layer::ale_auth_recv_accept_v4>(
                                      sl, action::block, remote_address.in(address_set<"blocklist">)),
                                  filter<"block-out", layer::ale_auth_connect_v4>(
                                      sl, action::block, remote_address.in(address_set<"blocklist">)),
                                  filter<"block-out-v6", layer::ale_auth_connect_v6>(
                                      sl, action::block, remote_address.in(address_set<"blocklist">)));
// Outbound connections only to allowed ports; a port set and an address set in one policy.
constexpr auto allow_ports = policy(filter<"allowed", layer::ale_auth_connect_v4>(
                                        sl, weight(8), action::permit, remote_port.in(port_set<"allowed">),
                                        remote_address.not_in(address_set<"blocklist">)),
                                    filter<"rest", layer::ale_auth_connect_v4>(sl, weight(0), action::block));
constexpr auto no_sets = policy(filter<"any", layer::ale_auth_connect_v4>(sl, action::permit));

static_assert(blocklist.set_count == 1 && allow_ports.set_count == 2 && no_sets.set_count == 0);
static_assert(blocklist.conditions[0].match == match_type::in_set &&
              blocklist.conditions[0].text == "blocklist");
static_assert(blocklist.conditions[0].fam == family::v4 && blocklist.conditions[2].fam == family::v6);
static_assert(allow_ports.conditions[0].low.lo == 0 && allow_ports.conditions[1].low.lo == 1);
// At compile time (no sets) every set is empty: `in` never matches, `not_in` always does.
static_assert(verdict(blocklist, path::tcp::active_open<v4>{}, incoming_values{}) == action::permit);

using sets_engine = engine<blocklist, allow_ports, no_sets>;
static_assert(sets_engine::sets().size() == 2);
static_assert(sets_engine::sets()[0].name == "blocklist" && sets_engine::sets()[0].kind == set_kind::address);
static_assert(sets_engine::sets()[1].name == "allowed" && sets_engine::sets()[1].kind == set_kind::port);
static_assert(detail::engine_sets<no_sets>::count == 0);

TEST(SetCondition, Renders) {
  EXPECT_EQ(to_string(blocklist.conditions[0]), "remote_address in @blocklist");
  EXPECT_EQ(to_string(allow_ports.conditions[1]), "remote_address not_in @blocklist");
}

TEST(SetCondition, GenericAndCompiledAgree) {
  const set_data d = set_data::addresses(std::vector<prefix>{*parse_prefix("10.1.0.0/16")});
  const set_data* views[1] = {&d};
  for (std::uint32_t a : {0x0a010203u, 0x0a020304u}) {
    incoming_values v;
    v.remote_address = address::from_v4(a);
    v.sets = views;
    const auto g = classify_generic(blocklist, path::tcp::active_open<v4>::key, v);
    const auto c = compiled<blocklist>::run<path::tcp::active_open<v4>>(v);
    EXPECT_EQ(g, c);
    EXPECT_EQ(c.verdict, a == 0x0a010203u ? action::block : action::permit);
  }
}

// README's example, as written there.
constexpr auto readme_blocklist = policy(
    filter<"blocklist-in-v4", layer::ale_auth_recv_accept_v4>(action::block,
                                                              remote_address.in(address_set<"blocklist">)),
    filter<"admin-only", layer::ale_auth_recv_accept_v4>(action::block, local_port.in(port_set<"admin">),
                                                         remote_address.not_in(address_set<"admins">)));

TEST(SetReadme, Example) {
  strata::engine<readme_blocklist> e{host{}};
  e.set<"blocklist">().replace({"192.0.2.0/24"_v4, "2001:db8::/32"_v6});  // any thread, any time
  e.set<"admin">().replace({22, strata::port_range{8000, 8080}});
  EXPECT_EQ(e.set<"blocklist">().current()->size(), 2u);
  EXPECT_TRUE(e.set<"admin">().current()->contains_port(8042));
  if (auto r = strata::load_set_file("/nonexistent/blocklist.txt", strata::set_kind::address))
    e.replace_set("blocklist", r.data);
  else
    EXPECT_EQ(r.error, "/nonexistent/blocklist.txt: cannot open");
  EXPECT_EQ(e.set<"blocklist">().current()->size(), 2u);  // kept
  EXPECT_TRUE(e.replace_set("blocklist", nullptr));       // an empty set
  EXPECT_EQ(e.set<"blocklist">().current(), nullptr);
}

// ---- replacement during classification --------------------------------------------------------------

using hostile::bytes;
using hostile::frame_of;
constexpr auto ip4 = hostile::v4;

constexpr std::uint32_t local = ip4(10, 0, 0, 2);
constexpr std::uint32_t A = ip4(10, 1, 0, 1), B = ip4(10, 2, 0, 5), C = ip4(10, 3, 0, 9),
                        E = ip4(10, 9, 9, 9);

host test_host() {
  host h;
  EXPECT_TRUE(h.add_local("10.0.0.2"));
  return h;
}

struct packet_spec {
  std::uint32_t remote;
  std::uint16_t local_port;
  std::uint16_t remote_port;
  bool outbound;
};
bytes udp_frame(const packet_spec& p) {
  return p.outbound ? hostile::ipv4(local, p.remote, 17, hostile::udp(p.local_port, p.remote_port, 4))
                    : hostile::ipv4(p.remote, local, 17, hostile::udp(p.remote_port, p.local_port, 4));
}

bool reauthorized(const record& r) {
  for (const step_record& s : r.steps)
    if (s.flags & flag::is_reauthorize) return true;
  return false;
}
std::vector<std::string> layers(const record& r) {
  std::vector<std::string> out;
  for (const step_record& s : r.steps)
    out.push_back(std::string(short_identifier(s.layer)) +
                  ((s.flags & flag::is_reauthorize) ? "+IS_REAUTHORIZE" : ""));
  return out;
}

// Flows to A, B, C (outbound-created, UDP); E is in the set from the start. At frame 7 the set becomes
// {10.1.0.0/24, B, E}: A and B are in old XOR new and are reauthorized on their next packet (and fail:
// torn down), C and E are not.
TEST(SetReplacement, ReauthorizesOnlyFlowsInOldXorNew) {
  std::vector<packet_spec> script = {
      {A, 5001, 53, true},  {B, 5002, 53, true},  {C, 5003, 53, true},   // 1-3: new flows
      {E, 5004, 53, true},                                               // 4: blocked (in the set)
      {A, 5001, 53, false}, {C, 5003, 53, false},                        // 5-6: replies
      {A, 5001, 53, false},                                              // 7: set replaced before this one
      {B, 5002, 53, true},  {C, 5003, 53, true},  {C, 5003, 53, false},  // 8-10
      {E, 5004, 53, true},  {A, 5001, 53, true},                         // 11-12
  };
  std::vector<bytes> frames;
  for (const auto& p : script) frames.push_back(udp_frame(p));
  std::vector<io::frame> fs;
  for (std::size_t i = 0; i < frames.size(); ++i)
    fs.push_back(frame_of(frames[i], 1'000'000'000 + static_cast<std::int64_t>(i) * 1000, i + 1));

  sets_engine e{test_host()};
  e.set<"blocklist">().replace({prefix{address::from_v4(E), 32, family::v4}});
  std::vector<record> out;
  std::size_t k = 0;
  for (const record& r : fs | views::classify(e)) {
    out.push_back(r);
    if (++k == 6)  // between frames 6 and 7, while the range is being consumed
      e.set<"blocklist">().replace({*parse_prefix("10.1.0.0/24"), prefix{address::from_v4(B), 32, family::v4},
                                    prefix{address::from_v4(E), 32, family::v4}});
  }
  ASSERT_EQ(out.size(), fs.size());  // one record per frame, none lost or doubled
  for (std::size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i].frame, i + 1);

  for (std::size_t i : {0u, 1u, 2u, 4u, 5u}) {
    EXPECT_EQ(out[i].verdict, action::permit) << i + 1;
    EXPECT_FALSE(reauthorized(out[i])) << i + 1;
  }
  EXPECT_EQ(out[3].verdict, action::block);  // E: a new flow, blocked by the set loaded first
  EXPECT_EQ(out[3].filter_name, "block-out");
  // §8 failure, inbound packet of an outbound-created flow: ALE_AUTH_CONNECT with IS_REAUTHORIZE, its
  // discard twin, torn down.
  EXPECT_EQ(layers(out[6]), (std::vector<std::string>{"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4",
                                                      "ALE_AUTH_CONNECT_V4+IS_REAUTHORIZE",
                                                      "ALE_AUTH_CONNECT_V4_DISCARD+IS_REAUTHORIZE"}));
  EXPECT_EQ(out[6].verdict, action::block);
  EXPECT_EQ(out[6].filter_name, "block-out");
  // B, outbound: reauthorized at ALE_AUTH_CONNECT, fails.
  EXPECT_TRUE(reauthorized(out[7]));
  EXPECT_EQ(out[7].verdict, action::block);
  // C: not in old XOR new: not reauthorized, permitted.
  for (std::size_t i : {8u, 9u}) {
    EXPECT_FALSE(reauthorized(out[i])) << i + 1;
    EXPECT_EQ(out[i].verdict, action::permit) << i + 1;
  }
  // E: no flow (blocked from the start); a new attempt, blocked, not a reauthorization.
  EXPECT_FALSE(reauthorized(out[10]));
  EXPECT_EQ(out[10].verdict, action::block);
  // A's flow was torn down: a new flow, blocked by the new set, not a reauthorization.
  EXPECT_FALSE(reauthorized(out[11]));
  EXPECT_EQ(out[11].verdict, action::block);
  EXPECT_EQ(e.counters().reauthorized, 2u);
  EXPECT_EQ(e.counters().torn_down, 2u);
  EXPECT_EQ(e.counters().frames, fs.size());
}

// A port removed from an allow set: the flows to it are reauthorized and fail; the others are not
// reauthorized. Replacing a set the policy in force does not name marks nothing.
TEST(SetReplacement, RemovalFromAllowSet) {
  std::vector<bytes> frames = {udp_frame({A, 6001, 53, true}), udp_frame({A, 6002, 123, true}),
                               udp_frame({A, 6001, 53, true}), udp_frame({A, 6002, 123, true})};
  sets_engine e{test_host()};
  e.select(1);  // allow_ports
  e.set<"allowed">().replace({53, 123});
  std::vector<record> out;
  out.push_back(e.classify(frame_of(frames[0], 1000, 1)));
  out.push_back(e.classify(frame_of(frames[1], 2000, 2)));
  EXPECT_EQ(out[0].verdict, action::permit);
  EXPECT_EQ(out[1].verdict, action::permit);
  e.set<"allowed">().replace({port_range{50, 60}});  // 53 stays, 123 goes
  out.push_back(e.classify(frame_of(frames[2], 3000, 3)));
  out.push_back(e.classify(frame_of(frames[3], 4000, 4)));
  EXPECT_FALSE(reauthorized(out[2]));
  EXPECT_EQ(out[2].verdict, action::permit);
  EXPECT_TRUE(reauthorized(out[3]));
  EXPECT_EQ(out[3].verdict, action::block);
  EXPECT_EQ(out[3].filter_name, "rest");
  EXPECT_EQ(e.counters().reauthorized, 1u);

  // A kind mismatch is refused; an unknown name too.
  EXPECT_FALSE(e.replace_set("allowed", std::make_shared<const set_data>(set_data::addresses({}))));
  EXPECT_FALSE(e.replace_set("nope", std::make_shared<const set_data>(set_data::ports({}))));
  EXPECT_TRUE(e.replace_set("allowed", std::make_shared<const set_data>(set_data::ports({}))));
}

// Readers never block and never see a half-built set: one thread classifies while another replaces
// the set as fast as it can, alternating two sets that both hold every address used. A half-built or
// freed set would let a frame through; every frame has one record.
TEST(SetReplacement, ConcurrentReplacement) {
  sets_engine e{test_host()};
  constexpr std::size_t n = 200000;
  std::vector<bytes> frames;
  for (std::uint32_t i = 0; i < 64; ++i)
    frames.push_back(udp_frame({ip4(10, 1, 0, i), static_cast<std::uint16_t>(7000 + i), 53, true}));
  e.set<"blocklist">().replace({*parse_prefix("10.1.0.0/24")});
  std::atomic<bool> done{false};
  std::thread writer([&] {
    std::vector<prefix> big;
    for (std::uint32_t i = 0; i < 1000; ++i)
      big.push_back(prefix{address::from_v4(ip4(10, 1, 0, 0) + i), 32, family::v4});
    std::size_t round = 0;
    while (!done.load(std::memory_order_relaxed)) {
      if (round++ % 2)
        e.set<"blocklist">().replace(big);
      else
        e.set<"blocklist">().replace({*parse_prefix("10.1.0.0/24")});
    }
  });
  std::size_t records = 0, blocked = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const record r =
        e.classify(frame_of(frames[i % frames.size()], static_cast<std::int64_t>(i + 1) * 1000, i + 1));
    ++records;
    blocked += r.verdict == action::block;
  }
  done = true;
  writer.join();
  EXPECT_EQ(records, n);
  EXPECT_EQ(e.counters().frames, n);
  EXPECT_EQ(blocked, n);
  EXPECT_LE(e.set<"blocklist">().current()->size(), 1000u);
}

}  // namespace
