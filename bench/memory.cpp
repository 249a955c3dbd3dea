// Memory per tracked flow (issue 4): the flow entry, the table's overhead at its configured load, and the
// resident memory of one million flows, in the bare flow table and in the engine (1M inbound SYNs from
// distinct remotes, each leaving a flow in state syn_received). Prints one JSON object (bench/run keeps
// it; bench/report.py turns it into the memory table).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <strata/engine.hpp>

namespace {

std::size_t rss_bytes() {  // resident set size, from /proc/self/statm
  std::ifstream f("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  f >> pages >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

// An Ethernet + IPv4 + TCP SYN from 10.A.B.C:port to 192.168.1.10:443.
void syn_frame(std::vector<std::byte>& out, std::uint32_t i) {
  const std::uint8_t eth[14] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00};
  for (auto b : eth) out.push_back(std::byte(b));
  const std::uint32_t src = (10u << 24) | (i >> 6), dst = 0xc0a8010a;
  const std::uint16_t sport = static_cast<std::uint16_t>(1024 + (i & 63));
  const std::uint8_t ip[20] = {0x45,
                               0,
                               0,
                               40,
                               0,
                               1,
                               0x40,
                               0,
                               64,
                               6,
                               0,
                               0,
                               std::uint8_t(src >> 24),
                               std::uint8_t(src >> 16),
                               std::uint8_t(src >> 8),
                               std::uint8_t(src),
                               std::uint8_t(dst >> 24),
                               std::uint8_t(dst >> 16),
                               std::uint8_t(dst >> 8),
                               std::uint8_t(dst)};
  for (auto b : ip) out.push_back(std::byte(b));
  const std::uint8_t tcp[20] = {std::uint8_t(sport >> 8),
                                std::uint8_t(sport),
                                0x01,
                                0xbb,
                                0,
                                0,
                                0,
                                1,
                                0,
                                0,
                                0,
                                0,
                                0x50,
                                0x02,
                                0xfa,
                                0xf0,
                                0,
                                0,
                                0,
                                0};
  for (auto b : tcp) out.push_back(std::byte(b));
  out.resize(out.size() + 6, std::byte{0});  // Ethernet minimum: 60 bytes
}

constexpr auto allow_all = strata::policy();

}  // namespace

int main() {
  using strata::flow::flow_table;
  constexpr std::size_t million = 1'000'000;
  const std::size_t engine_default = strata::engine_config{}.flow_capacity;
  const std::size_t default_buckets =
      strata::flow::detail::open_table<strata::flow::flow_entry>::buckets_for(engine_default);

  // 1. The bare flow table: 1M flows.
  const std::size_t rss0 = rss_bytes();
  std::size_t table_bytes = 0, table_rss = 0, table_size = 0;
  {
    flow_table t(million);
    table_bytes = t.memory_bytes();
    for (std::uint32_t i = 0; i < million; ++i) {
      strata::flow::flow_key k;
      k.fam = strata::family::v4;
      k.protocol = 6;
      k.local = strata::address::from_v4(0xc0a8010a);
      k.remote = strata::address::from_v4((10u << 24) | (i >> 6));
      k.local_port = 443;
      k.remote_port = static_cast<std::uint16_t>(1024 + (i & 63));
      t.insert(k, std::int64_t{1'700'000'000} * 1'000'000'000);
    }
    table_size = t.size();
    table_rss = rss_bytes() - rss0;
  }

  // 2. The engine: 1M inbound SYNs to a listening port, flow capacity 1M.
  std::vector<std::byte> bytes;
  bytes.reserve(million * 60);
  for (std::uint32_t i = 0; i < million; ++i) syn_frame(bytes, i);
  strata::host h;
  h.add_local("192.168.1.10");
  h.add_hint({6, 443, true});
  const std::size_t rss1 = rss_bytes();
  std::size_t engine_rss = 0, engine_flows = 0;
  {
    auto e = std::make_unique<strata::verdict_engine<allow_all>>(
        h, strata::engine_config{.flow_capacity = million});
    const std::size_t after_construction = rss_bytes() - rss1;
    std::int64_t t = std::int64_t{1'700'000'000} * 1'000'000'000;
    for (std::uint32_t i = 0; i < million; ++i) {
      strata::io::frame f{std::span<const std::byte>(bytes.data() + std::size_t{i} * 60, 60), 60,
                          strata::io::timestamp(std::chrono::nanoseconds(t += 1000)), i + 1};
      (void)e->classify(f);
    }
    engine_flows = e->flows().size();
    engine_rss = rss_bytes() - rss1;
    std::printf("{\n  \"flow_entry_bytes\": %zu,\n", sizeof(strata::flow::flow_entry));
    std::printf("  \"max_load\": \"7/8\",\n");
    std::printf("  \"engine_default_capacity\": %zu,\n  \"engine_default_buckets\": %zu,\n", engine_default,
                default_buckets);
    std::printf("  \"engine_default_table_bytes\": %zu,\n",
                default_buckets * sizeof(strata::flow::flow_entry));
    std::printf("  \"table_1m_bytes\": %zu,\n  \"table_1m_flows\": %zu,\n  \"table_1m_rss_bytes\": %zu,\n",
                table_bytes, table_size, table_rss);
    std::printf("  \"engine_1m_construct_rss_bytes\": %zu,\n", after_construction);
    std::printf("  \"engine_1m_flows\": %zu,\n  \"engine_1m_rss_bytes\": %zu\n}\n", engine_flows, engine_rss);
  }
  return 0;
}
