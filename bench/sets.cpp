// Run-time sets (strata/set_data.hpp): the cost of one membership lookup for sets of 10, 1k and 100k
// entries, per structure (host addresses: small array / hash; prefixes: small array / sorted intervals;
// ports: small array / bitmap), IPv4 and IPv6; and a compiled pipeline whose filter tests a set
// (ALE_AUTH_CONNECT_V4, remote_address in @blocklist) against the same pipeline with an address literal.
// Queries: 2^20 pre-generated random values, half of them in the set, cycled (far more than the caches hold).
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

#include <strata/engine.hpp>
#include <strata/sets.hpp>

using namespace strata;

namespace {

constexpr std::size_t query_count = std::size_t{1} << 20;  // more than the caches: lookups miss as they would

struct address_fixture {
  set_data set;
  std::vector<address> queries;
};

// `length`: prefix length of the entries (32/128: host addresses).
address_fixture make_addresses(std::size_t n, family f, unsigned length) {
  std::mt19937_64 rng(n * 31 + length);
  std::vector<prefix> entries;
  for (std::size_t i = 0; i < n; ++i) {
    prefix p;
    p.fam = f;
    p.length = static_cast<std::uint8_t>(length);
    p.addr = f == family::v4 ? address::from_v4(static_cast<std::uint32_t>(rng())) : address{rng(), rng()};
    p.addr = p.addr & p.mask();
    entries.push_back(p);
  }
  address_fixture fx{set_data::addresses(entries), {}};
  for (std::size_t i = 0; i < query_count; ++i) {
    if (i % 2 && n > 0) {
      const prefix& p = entries[rng() % n];
      const address host_bits = f == family::v4 ? address{0, rng() & 0xffffffffu} : address{rng(), rng()};
      const address m = p.mask();
      fx.queries.push_back(address{p.addr.hi | (host_bits.hi & ~m.hi), p.addr.lo | (host_bits.lo & ~m.lo)});
    } else {
      fx.queries.push_back(f == family::v4 ? address::from_v4(static_cast<std::uint32_t>(rng()))
                                           : address{rng(), rng()});
    }
  }
  return fx;
}

void lookup(benchmark::State& state, family f, unsigned length) {
  const auto fx = make_addresses(static_cast<std::size_t>(state.range(0)), f, length);
  std::size_t i = 0, hits = 0;
  for (auto _ : state) {
    hits += fx.set.contains(f, fx.queries[i]);
    i = (i + 1) & (query_count - 1);
  }
  benchmark::DoNotOptimize(hits);
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(std::string(name(fx.set.lookup(f))));
}

void BM_v4_hosts(benchmark::State& s) { lookup(s, family::v4, 32); }
void BM_v4_prefixes(benchmark::State& s) { lookup(s, family::v4, 24); }
void BM_v6_hosts(benchmark::State& s) { lookup(s, family::v6, 128); }
void BM_v6_prefixes(benchmark::State& s) { lookup(s, family::v6, 64); }
BENCHMARK(BM_v4_hosts)->Arg(10)->Arg(1000)->Arg(100000);
BENCHMARK(BM_v4_prefixes)->Arg(10)->Arg(1000)->Arg(100000);
BENCHMARK(BM_v6_hosts)->Arg(10)->Arg(1000)->Arg(100000);
BENCHMARK(BM_v6_prefixes)->Arg(10)->Arg(1000)->Arg(100000);

// Ports: at most 65536 distinct values; 100k entries are 100k random ports (with repeats).
void BM_ports(benchmark::State& state) {
  std::mt19937_64 rng(7);
  std::vector<port_range> entries;
  for (std::int64_t i = 0; i < state.range(0); ++i) entries.emplace_back(static_cast<std::uint16_t>(rng()));
  const set_data d = set_data::ports(entries);
  std::vector<std::uint16_t> q;
  for (std::size_t i = 0; i < query_count; ++i)
    q.push_back(i % 2 ? entries[rng() % entries.size()].low : static_cast<std::uint16_t>(rng()));
  std::size_t i = 0, hits = 0;
  for (auto _ : state) {
    hits += d.contains_port(q[i]);
    i = (i + 1) & (query_count - 1);
  }
  benchmark::DoNotOptimize(hits);
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(std::string(name(d.port_lookup())));
}
BENCHMARK(BM_ports)->Arg(10)->Arg(1000)->Arg(100000);

// A whole compiled path (TCP active open, IPv4: ALE_CONNECT_REDIRECT, ALE_AUTH_CONNECT, ...) with the
// filter testing a set, against the same filter with a literal prefix.
constexpr auto with_set = policy(filter<"block-listed", layer::ale_auth_connect_v4>(
    action::block, remote_address.in(address_set<"blocklist">)));
constexpr auto with_literal = policy(filter<"block-listed", layer::ale_auth_connect_v4>(
    action::block, remote_address == "198.51.100.0/24"_v4));

void BM_path_with_set(benchmark::State& state) {
  const auto fx = make_addresses(static_cast<std::size_t>(state.range(0)), family::v4, 32);
  const set_data* views[1] = {&fx.set};
  incoming_values v;
  v.ip_protocol = proto::tcp;
  v.sets = views;
  std::size_t i = 0, blocked = 0;
  for (auto _ : state) {
    v.remote_address = fx.queries[i];
    blocked += compiled<with_set>::run<path::tcp::active_open<v4>>(v).verdict == action::block;
    i = (i + 1) & (query_count - 1);
  }
  benchmark::DoNotOptimize(blocked);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_path_with_set)->Arg(10)->Arg(1000)->Arg(100000);

void BM_path_with_literal(benchmark::State& state) {
  const auto fx = make_addresses(1000, family::v4, 32);
  incoming_values v;
  v.ip_protocol = proto::tcp;
  std::size_t i = 0, blocked = 0;
  for (auto _ : state) {
    v.remote_address = fx.queries[i];
    blocked += compiled<with_literal>::run<path::tcp::active_open<v4>>(v).verdict == action::block;
    i = (i + 1) & (query_count - 1);
  }
  benchmark::DoNotOptimize(blocked);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_path_with_literal);

}  // namespace
