// Throughput of strata against its peers and its limit, side by side in one run (issue 4).
//
// Workloads, held in memory and replayed in a loop (timestamps move forward on every replay):
//   real  tests/data/strata-demo.pcap plus every capture in $STRATA_BENCH_CAPTURES (default
//         ../shared/captures next to the repository, when present), each seen from its own host
//   mix   a generated mix of many concurrent TCP and UDP flows (handshakes, data, teardown, closed ports
//         answered by RST / ICMP port unreachable, ICMP echo, 12% IPv6), synthesized in process; about
//         half of the flows are aimed at filters of the benchmark policies so that filters match
// Contenders (bench/throughput/*.cpp): the parse-only floor (engine with the empty policy), strata with
// 10/100/1000 generated filters, the hand-written classifier of the 100-filter policy and the run-time
// vector engine inside the same engine (same flow handling), libpcap's bpf_filter and strata on the
// stateless block lists s10/s100, and DPDK's rte_acl against strata's pipeline on the 5-tuple part of
// the 1000-filter policy.
//
// Every contender is checked against strata before the timing (verdicts and deciding filters); the
// results go to the benchmark context (JSON) and to stderr. bench/run runs this and writes the tables.
// strata-needs: pcap
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>

#include <benchmark/benchmark.h>
#include <pcap/pcap.h>

#include <strata/io/pcap_file.hpp>

#include "bench_bpf.hpp"
#include "bench_rules.hpp"
#include "throughput/common.hpp"

namespace fs = std::filesystem;

namespace bench {
namespace {

std::string v4_text(std::uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." +
         std::to_string((a >> 8) & 255) + "." + std::to_string(a & 255);
}

void finish_segment(segment& s, const std::vector<std::pair<std::size_t, std::size_t>>& spans) {
  for (std::size_t i = 0; i < s.frames.size(); ++i)
    s.frames[i].data = std::span<const std::byte>(s.bytes.data() + spans[i].first, spans[i].second);
  if (!s.frames.empty())
    s.shift_ns = (s.frames.back().time - s.frames.front().time).count() + std::int64_t{120'000'000'000};
  for (const strata::io::frame& f : s.frames)
    s.answers.add(strata::packet::parse(f.data, s.link, f.wire_length), s.host, f.index,
                  f.time.time_since_epoch().count());
  (void)s.answers.answered(strata::family::v4, 0, {}, 0, {}, 0, 0, 0);  // sorts once, before any timing
  for (std::size_t i = 0; i < s.host.local_count(); ++i) {
    const strata::prefix& p = s.host.local(i);
    if (p.fam == strata::family::v4)
      s.v4_locals.push_back(v4_text(p.addr.v4()) + "/" + std::to_string(p.length));
  }
}

int dlt_of(strata::packet::link_type lt) {
  switch (lt) {
    case strata::packet::link_type::raw:
    case strata::packet::link_type::raw_dlt:
      return DLT_RAW;
    default:
      return static_cast<int>(lt);
  }
}

// ---- real captures ----------------------------------------------------------------------------------

bool load_capture(const fs::path& path, segment& s, const std::vector<const char*>& locals) {
  auto reader = strata::io::pcap_reader::open(path);
  if (!reader) {
    std::fprintf(stderr, "throughput: %s\n", reader.error().what().c_str());
    return false;
  }
  s.name = path.filename().string();
  s.link = reader->link_type();
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  for (const strata::io::frame& f : *reader) {
    spans.emplace_back(s.bytes.size(), f.data.size());
    s.bytes.insert(s.bytes.end(), f.data.begin(), f.data.end());
    s.frames.push_back({{}, f.wire_length, f.time, f.index});
  }
  if (s.frames.empty()) return false;
  for (const char* a : locals) s.host.add_local(a);
  if (locals.empty()) {  // the observed host: the most frequent address of each family
    std::map<std::pair<int, std::pair<std::uint64_t, std::uint64_t>>, std::size_t> count;
    for (std::size_t i = 0; i < s.frames.size(); ++i) {
      const auto p =
          strata::packet::parse(std::span<const std::byte>(s.bytes.data() + spans[i].first, spans[i].second),
                                s.link, s.frames[i].wire_length);
      if (!p.ok()) continue;
      ++count[{static_cast<int>(p.fam), {p.src.hi, p.src.lo}}];
      ++count[{static_cast<int>(p.fam), {p.dst.hi, p.dst.lo}}];
    }
    for (const strata::family f : {strata::family::v4, strata::family::v6}) {
      std::size_t best = 0;
      strata::address a{};
      for (const auto& [k, n] : count)
        if (k.first == static_cast<int>(f) && n > best) best = n, a = {k.second.first, k.second.second};
      if (best)
        s.host.add_local(strata::prefix{a, static_cast<std::uint8_t>(f == strata::family::v4 ? 32 : 128), f});
    }
  }
  finish_segment(s, spans);
  return true;
}

workload real_workload() {
  workload w;
  w.name = "real";
  segment demo;  // strata-demo.md names the observed host
  if (load_capture(fs::path(STRATA_SOURCE_DIR) / "tests/data/strata-demo.pcap", demo,
                   {"10.99.1.2", "10.99.2.1", "fd99:1::2", "fd99:2::1"}))
    w.segs.push_back(std::move(demo));
  fs::path dir = fs::path(STRATA_SOURCE_DIR) / "../shared/captures";
  if (const char* e = std::getenv("STRATA_BENCH_CAPTURES")) dir = e;
  if (fs::is_directory(dir)) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir)) {
      const auto ext = e.path().extension();
      if (ext == ".pcap" || ext == ".pcapng") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      segment s;
      if (load_capture(f, s, {})) w.segs.push_back(std::move(s));
    }
  }
  return w;
}

// ---- the generated mix --------------------------------------------------------------------------------

struct endpoint {
  bool v6 = false;
  std::uint32_t v4 = 0;
  std::array<std::uint8_t, 16> b6{};
};

enum class flow_type { tcp_in, tcp_out, udp_out, udp_in, udp_closed, tcp_closed, echo };

struct step_plan {
  bool from_host;
  std::uint8_t tcp_flags;  // TCP; for others: 0 data, 1 ICMP port unreachable (host answers), 2 echo request,
                           // 3 echo reply
  std::uint16_t payload;
};

struct mix_flow {
  flow_type type;
  std::uint8_t proto;
  endpoint host, remote;
  std::uint16_t host_port, remote_port;
  std::vector<step_plan> steps;
  std::size_t next = 0;
  std::uint32_t seq_host = 1000, seq_remote = 5000;
  std::uint16_t ip_id = 1;
};

class mix_generator {
 public:
  explicit mix_generator(std::uint64_t seed) : rng_(seed) {
    // Filters to aim flows at: the 100-filter policy (twice as often), the stateless s100 and p1000.
    for (const auto* list :
         {&bench_rules::p100[0], &bench_rules::p100[0], &bench_rules::s100[0], &bench_rules::p1000[0]}) {
      const std::size_t n = list == &bench_rules::p100[0]   ? std::size(bench_rules::p100)
                            : list == &bench_rules::s100[0] ? std::size(bench_rules::s100)
                                                            : std::size(bench_rules::p1000);
      for (std::size_t i = 0; i < n; ++i) targets_.push_back(&list[i]);
    }
  }

  workload make(std::size_t flows, std::size_t concurrent) {
    workload w;
    w.name = "mix";
    segment s;
    s.name = "generated-mix";
    s.host.add_local("192.168.0.0/16");
    s.host.add_local("fd00:1::/64");
    s.flow_capacity = 1u << 16;
    std::vector<std::pair<std::size_t, std::size_t>> spans;
    std::vector<mix_flow> active;
    std::size_t started = 0;
    std::int64_t t = 1'700'000'000'000'000'000;
    while (started < flows || !active.empty()) {
      while (active.size() < concurrent && started < flows) {
        active.push_back(new_flow());
        ++started;
      }
      const std::size_t i = std::uniform_int_distribution<std::size_t>(0, active.size() - 1)(rng_);
      mix_flow& f = active[i];
      const std::size_t off = s.bytes.size();
      emit(f, f.steps[f.next++], s.bytes);
      spans.emplace_back(off, s.bytes.size() - off);
      t += 3000;  // 3 µs apart: about 330k packets per second
      s.frames.push_back({{},
                          static_cast<std::uint32_t>(s.bytes.size() - off),
                          strata::io::timestamp(std::chrono::nanoseconds(t)),
                          s.frames.size() + 1});
      if (f.next == f.steps.size()) {
        active[i] = std::move(active.back());
        active.pop_back();
      }
    }
    finish_segment(s, spans);
    w.segs.push_back(std::move(s));
    return w;
  }

 private:
  std::uint32_t u(std::uint32_t lo, std::uint32_t hi) {
    return std::uniform_int_distribution<std::uint32_t>(lo, hi)(rng_);
  }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }

  endpoint random_remote(bool v6) {
    endpoint e;
    e.v6 = v6;
    if (v6) {
      e.b6 = {0x20, 0x01, 0x0d, 0xb8};
      for (int i = 8; i < 16; ++i) e.b6[i] = static_cast<std::uint8_t>(u(0, 255));
    } else {
      e.v4 = chance(0.5) ? (10u << 24) | u(0, 0xffffff) : u(0x0b000000, 0xdfffffff);
      if ((e.v4 >> 16) == 0xc0a8) e.v4 ^= 0x01000000;  // never in the host's 192.168.0.0/16
    }
    return e;
  }
  endpoint host_addr(bool v6) {
    endpoint e;
    e.v6 = v6;
    if (v6)
      e.b6 = {0xfd, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, static_cast<std::uint8_t>(0x10 + u(0, 3))};
    else
      e.v4 = 0xc0a8010a + u(0, 3);  // 192.168.1.10-13
    return e;
  }

  // Aims a new IPv4 flow at a filter whose layer sees it and whose protocol condition fits.
  void aim(mix_flow& f, bool host_initiated) {
    for (int attempt = 0; attempt < 20; ++attempt) {
      const bench_rules::rule& r = *targets_[u(0, static_cast<std::uint32_t>(targets_.size() - 1))];
      using L = strata::layer_id;
      const bool inbound_layer = r.layer == L::ale_auth_recv_accept_v4 ||
                                 r.layer == L::inbound_transport_v4 || r.layer == L::inbound_ippacket_v4;
      if (r.layer == L::ale_auth_recv_accept_v4 || r.layer == L::ale_auth_connect_v4) {
        if (inbound_layer == host_initiated) continue;  // an ALE layer sees the flow's creator only
      }
      bool ok = true;
      for (std::size_t c = 0; c < r.ncond; ++c)
        if (r.conds[c].kind == bench_rules::proto && r.conds[c].a != f.proto) ok = false;
      if (!ok) continue;
      for (std::size_t c = 0; c < r.ncond; ++c) {
        const auto& k = r.conds[c];
        switch (k.kind) {
          case bench_rules::port_eq:
            f.host_port = static_cast<std::uint16_t>(k.a);
            break;
          case bench_rules::port_range:
            f.host_port = static_cast<std::uint16_t>(u(k.a, k.b));
            break;
          case bench_rules::raddr24:
            f.remote.v4 = k.a | u(1, 254);
            break;
          case bench_rules::laddr:
            f.host.v4 = k.a;
            break;
          default:
            break;
        }
      }
      return;
    }
  }

  mix_flow new_flow() {
    static constexpr std::uint16_t tcp_services[] = {80, 443, 22, 25, 3306, 5432, 8080, 8443, 9000, 6379};
    static constexpr std::uint16_t udp_services[] = {53, 123, 443, 5353, 51820};
    mix_flow f;
    const std::uint32_t r = u(0, 99);
    f.type = r < 30   ? flow_type::tcp_in
             : r < 65 ? flow_type::tcp_out
             : r < 83 ? flow_type::udp_out
             : r < 91 ? flow_type::udp_in
             : r < 94 ? flow_type::udp_closed
             : r < 97 ? flow_type::tcp_closed
                      : flow_type::echo;
    const bool v6 = chance(0.12);
    f.host = host_addr(v6);
    f.remote = random_remote(v6);
    const bool tcp =
        f.type == flow_type::tcp_in || f.type == flow_type::tcp_out || f.type == flow_type::tcp_closed;
    f.proto = f.type == flow_type::echo ? (v6 ? 58 : 1) : tcp ? 6 : 17;
    const bool host_initiated =
        f.type == flow_type::tcp_out || f.type == flow_type::udp_out || f.type == flow_type::echo;
    const std::uint16_t ephemeral = static_cast<std::uint16_t>(u(32768, 60999));
    const std::uint16_t service = tcp ? tcp_services[u(0, 9)] : udp_services[u(0, 4)];
    f.host_port = host_initiated ? ephemeral : service;
    f.remote_port = host_initiated ? service : ephemeral;
    if (f.type == flow_type::echo) f.host_port = static_cast<std::uint16_t>(u(1, 65535)), f.remote_port = 0;
    if (!v6 && f.type != flow_type::echo && chance(0.5)) aim(f, host_initiated);

    auto add = [&](bool from_host, std::uint8_t flags, std::uint16_t payload) {
      f.steps.push_back({from_host, flags, payload});
    };
    const bool I = host_initiated;  // the initiator's side, "from host" when the host initiates
    switch (f.type) {
      case flow_type::tcp_in:
      case flow_type::tcp_out: {
        add(I, 0x02, 0), add(!I, 0x12, 0), add(I, 0x10, 0);
        for (std::uint32_t k = u(1, 5); k--;) {
          add(I, 0x18, static_cast<std::uint16_t>(u(40, 400)));
          add(!I, 0x10, 0);
          for (std::uint32_t seg = u(1, 2); seg--;)
            add(!I, 0x18, static_cast<std::uint16_t>(chance(0.5) ? 1460 : u(100, 1400)));
          add(I, 0x10, 0);
        }
        add(I, 0x11, 0), add(!I, 0x10, 0), add(!I, 0x11, 0), add(I, 0x10, 0);
        break;
      }
      case flow_type::tcp_closed:
        add(false, 0x02, 0), add(true, 0x14, 0);
        break;
      case flow_type::udp_out:
      case flow_type::udp_in:
        for (std::uint32_t k = u(1, 3); k--;) {
          add(I, 0, static_cast<std::uint16_t>(u(30, 300)));
          add(!I, 0, static_cast<std::uint16_t>(u(30, 512)));
        }
        break;
      case flow_type::udp_closed:
        add(false, 0, static_cast<std::uint16_t>(u(30, 200))), add(true, 1, 0);
        break;
      case flow_type::echo:
        for (std::uint32_t k = u(1, 4); k--;) add(true, 2, 56), add(false, 3, 56);
        break;
    }
    return f;
  }

  static void put16(std::vector<std::byte>& b, std::uint16_t v) {
    b.push_back(std::byte(v >> 8)), b.push_back(std::byte(v & 255));
  }
  static void put32(std::vector<std::byte>& b, std::uint32_t v) {
    put16(b, static_cast<std::uint16_t>(v >> 16)), put16(b, static_cast<std::uint16_t>(v));
  }
  static void set16(std::vector<std::byte>& b, std::size_t at, std::uint16_t v) {
    b[at] = std::byte(v >> 8), b[at + 1] = std::byte(v & 255);
  }
  static void put_addr(std::vector<std::byte>& b, const endpoint& e) {
    if (e.v6)
      for (auto x : e.b6) b.push_back(std::byte(x));
    else
      put32(b, e.v4);
  }

  // IP header (v4 or v6) from src to dst; returns where its length field must be patched.
  static std::size_t ip_header(std::vector<std::byte>& b, const endpoint& src, const endpoint& dst,
                               std::uint8_t proto, std::uint16_t id) {
    const std::size_t at = b.size();
    if (src.v6) {
      put32(b, 0x60000000), put16(b, 0), b.push_back(std::byte(proto)), b.push_back(std::byte(64));
      put_addr(b, src), put_addr(b, dst);
    } else {
      b.push_back(std::byte(0x45)), b.push_back(std::byte(0)), put16(b, 0), put16(b, id), put16(b, 0x4000);
      b.push_back(std::byte(64)), b.push_back(std::byte(proto)), put16(b, 0);
      put_addr(b, src), put_addr(b, dst);
    }
    return at;
  }
  static void patch_ip(std::vector<std::byte>& b, std::size_t at, bool v6) {
    const std::size_t total = b.size() - at;
    if (v6) {
      set16(b, at + 4, static_cast<std::uint16_t>(total - 40));
      return;
    }
    set16(b, at + 2, static_cast<std::uint16_t>(total));
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i < 20; i += 2)
      sum += (std::to_integer<std::uint32_t>(b[at + i]) << 8) | std::to_integer<std::uint32_t>(b[at + i + 1]);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    set16(b, at + 10, static_cast<std::uint16_t>(~sum));
  }

  void emit(mix_flow& f, const step_plan& st, std::vector<std::byte>& b) {
    const endpoint& src = st.from_host ? f.host : f.remote;
    const endpoint& dst = st.from_host ? f.remote : f.host;
    const std::uint16_t sport = st.from_host ? f.host_port : f.remote_port;
    const std::uint16_t dport = st.from_host ? f.remote_port : f.host_port;
    // Ethernet: the host's MAC and its gateway's
    const std::uint8_t host_mac[6] = {2, 0, 0, 0, 0, 1}, gw_mac[6] = {2, 0, 0, 0, 0, 2};
    for (auto x : st.from_host ? gw_mac : host_mac) b.push_back(std::byte(x));
    for (auto x : st.from_host ? host_mac : gw_mac) b.push_back(std::byte(x));
    put16(b, f.host.v6 ? 0x86dd : 0x0800);
    const bool icmp_answer = f.proto != 6 && st.tcp_flags == 1;
    const std::uint8_t proto = icmp_answer ? (f.host.v6 ? 58 : 1) : f.proto;
    const std::size_t ip = ip_header(b, src, dst, proto, f.ip_id++);
    if (f.proto == 6) {
      std::uint32_t& seq = st.from_host ? f.seq_host : f.seq_remote;
      const std::uint32_t ack = st.from_host ? f.seq_remote : f.seq_host;
      const bool syn = st.tcp_flags & 0x02;
      put16(b, sport), put16(b, dport), put32(b, seq), put32(b, (st.tcp_flags & 0x10) ? ack : 0);
      put16(b, static_cast<std::uint16_t>(((syn ? 6 : 5) << 12) | st.tcp_flags)), put16(b, 64240),
          put16(b, 0), put16(b, 0);
      if (syn) put32(b, 0x020405b4);  // MSS 1460
      b.resize(b.size() + st.payload, std::byte{0x61});
      seq += st.payload + (syn || (st.tcp_flags & 0x01) ? 1 : 0);
    } else if (icmp_answer) {  // port unreachable quoting the datagram that came in
      const std::size_t icmp = b.size();
      b.push_back(std::byte(f.host.v6 ? 1 : 3)), b.push_back(std::byte(f.host.v6 ? 4 : 3)), put16(b, 0),
          put32(b, 0);
      const std::size_t q = ip_header(b, f.remote, f.host, 17, 7);
      put16(b, f.remote_port), put16(b, f.host_port), put16(b, 8 + 64), put16(b, 0);
      (void)icmp;
      if (!f.host.v6) {  // the quoted header keeps its own lengths
        set16(b, q + 2, 20 + 8 + 64);
      } else {
        set16(b, q + 4, 8 + 64);
      }
    } else if (f.proto == 1 || f.proto == 58) {
      const bool request = st.tcp_flags == 2;
      b.push_back(std::byte(f.proto == 58 ? (request ? 128 : 129) : (request ? 8 : 0))),
          b.push_back(std::byte(0));
      put16(b, 0), put16(b, f.host_port), put16(b, static_cast<std::uint16_t>(f.next));
      b.resize(b.size() + st.payload, std::byte{0x20});
    } else {  // UDP
      put16(b, sport), put16(b, dport), put16(b, static_cast<std::uint16_t>(8 + st.payload)), put16(b, 0);
      b.resize(b.size() + st.payload, std::byte{0x62});
    }
    patch_ip(b, ip, f.host.v6);
    if (!f.host.v6 && b.size() - ip + 14 < 60) b.resize(ip - 14 + 60, std::byte{0});  // Ethernet minimum
  }

  std::mt19937_64 rng_;
  std::vector<const bench_rules::rule*> targets_;
};

// ---- libpcap's bpf_filter ------------------------------------------------------------------------------

std::string substitute(std::string expr, const segment& s) {
  std::string in, out;
  for (const auto& l : s.v4_locals) {
    in += (in.empty() ? "" : " or ") + std::string("dst net ") + l;
    out += (out.empty() ? "" : " or ") + std::string("src net ") + l;
  }
  if (in.empty()) in = "dst host 0.0.0.0", out = "src host 0.0.0.0";
  in = "(" + in + ")", out = "(" + out + ")";
  for (std::size_t p; (p = expr.find("@IN@")) != std::string::npos;) expr.replace(p, 4, in);
  for (std::size_t p; (p = expr.find("@OUT@")) != std::string::npos;) expr.replace(p, 5, out);
  return expr;
}

struct bpf_programs {
  std::vector<bpf_program> progs;  // one per segment
  std::size_t instructions = 0;    // of the first segment's program
  std::string error;
};

bpf_programs compile_bpf(const workload& w, const char* expression) {
  bpf_programs r;
  for (const segment& s : w.segs) {
    pcap_t* dead = pcap_open_dead(dlt_of(s.link), 65535);
    bpf_program prog{};
    const std::string e = substitute(expression, s);
    if (pcap_compile(dead, &prog, e.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
      r.error = pcap_geterr(dead);
      pcap_close(dead);
      return r;
    }
    pcap_close(dead);
    if (r.progs.empty()) r.instructions = prog.bf_len;
    r.progs.push_back(prog);
  }
  return r;
}

class bpf_contender final : public contender {
 public:
  bpf_contender(const workload& w, const bpf_programs& p) : w_(w), p_(p) {}
  void pass() override {
    std::uint64_t b = 0;
    for (std::size_t i = 0; i < w_.segs.size(); ++i) {
      const bpf_insn* code = p_.progs[i].bf_insns;
      for (const strata::io::frame& f : w_.segs[i].frames)
        b += bpf_filter(code, reinterpret_cast<const u_char*>(f.data.data()), f.wire_length,
                        static_cast<u_int>(f.data.size())) != 0;
    }
    blocked_ += b;
  }
  std::uint64_t blocked() const override { return blocked_; }

 private:
  const workload& w_;
  const bpf_programs& p_;
  std::uint64_t blocked_ = 0;
};

// ---- checks
// ------------------------------------------------------------------------------------------------

std::string check_bpf(const workload& w, const bpf_programs& p,
                      const std::vector<stateless_outcome>& strata_out) {
  std::size_t i = 0, agree = 0, differ = 0, na_match = 0, blocked = 0;
  for (std::size_t s = 0; s < w.segs.size(); ++s) {
    for (const strata::io::frame& f : w.segs[s].frames) {
      const bool m = bpf_filter(p.progs[s].bf_insns, reinterpret_cast<const u_char*>(f.data.data()),
                                f.wire_length, static_cast<u_int>(f.data.size())) != 0;
      const stateless_outcome& o = strata_out[i++];
      if (o.verdict < 0) {
        na_match += m;
        continue;
      }
      blocked += o.verdict == 1;
      ((o.verdict == 1) == m ? agree : differ)++;
    }
  }
  return std::to_string(agree) + " agree, " + std::to_string(differ) + " differ (" + std::to_string(blocked) +
         " blocked); BPF also matches " + std::to_string(na_match) +
         " frames outside the stateless question (fragments, VLAN-less offsets, forwarded)";
}

// Every frame, applicable or not: the library's stateless classifier against the benchmark's own
// parse + stateless_key + compiled<P>::classify.
std::string check_identical(const std::vector<stateless_outcome>& ref,
                            const std::vector<stateless_outcome>& b, bool& failed) {
  std::size_t same = 0, differ = ref.size() > b.size() ? ref.size() - b.size() : b.size() - ref.size();
  for (std::size_t i = 0; i < ref.size() && i < b.size(); ++i) (ref[i] == b[i] ? same : differ)++;
  failed = failed || differ != 0;
  return std::to_string(same) + " frames identical (applicability, verdict and deciding filter), " +
         std::to_string(differ) + " differ";
}

std::string check_outcomes(const std::vector<stateless_outcome>& a, const std::vector<stateless_outcome>& b) {
  std::size_t agree = 0, differ = 0, blocked = 0;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (a[i].verdict < 0) continue;
    blocked += a[i].verdict == 1;
    (a[i] == b[i] ? agree : differ)++;
  }
  return std::to_string(agree) + " agree (verdict and deciding filter), " + std::to_string(differ) +
         " differ (" + std::to_string(blocked) + " blocked)";
}

void note(const std::string& key, const std::string& value) {
  benchmark::AddCustomContext(key, value);
  std::fprintf(stderr, "  %s: %s\n", key.c_str(), value.c_str());
}

struct registered {
  std::string name;
  std::unique_ptr<contender> c;
};
std::vector<registered> all;

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  using namespace bench;
  benchmark::Initialize(&argc, argv);
  bool check_only = false;
  std::string only;  // --only=NAME: build just that contender, no checks (for profiling)
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--check-only") == 0) check_only = true;
    if (std::strncmp(argv[i], "--only=", 7) == 0) only = argv[i] + 7;
  }

  std::size_t flows = 12000;
  if (const char* e = std::getenv("STRATA_BENCH_FLOWS")) flows = std::strtoul(e, nullptr, 10);
  std::vector<workload> workloads;
  workloads.push_back(real_workload());
  workloads.push_back(mix_generator(4).make(flows, 1500));

  std::string acl_why;
  const bool acl = acl_available(acl_why);
  note("rte_acl", acl ? "yes" : "no");
  note("rte_acl.note", acl_why);
  std::fprintf(stderr, "throughput: %s\n", acl_why.c_str());

  std::vector<contender_info> infos = small_contenders();
  for (auto& c : large_contenders()) infos.push_back(std::move(c));
  if (acl)
    for (auto& c : acl_contenders()) infos.push_back(std::move(c));
  if (!only.empty()) {
    std::erase_if(infos, [&](const contender_info& i) { return i.name != only; });
    for (const workload& w : workloads)
      for (const contender_info& info : infos) {
        auto c = info.make(w);
        c->pass();
        all.push_back({w.name + "/" + info.name, std::move(c)});
      }
  }

  static std::vector<bpf_programs> bpf_progs;  // stable addresses: contenders keep references
  bpf_progs.reserve(2 * workloads.size());
  bool failed_checks = false;
  for (const workload& w : workloads) {
    if (!only.empty()) break;
    std::size_t segs_frames = w.packets();
    note("workload." + w.name + ".packets", std::to_string(segs_frames));
    note("workload." + w.name + ".segments", std::to_string(w.segs.size()));
    std::size_t bytes = 0;
    for (const auto& s : w.segs) bytes += s.bytes.size();
    note("workload." + w.name + ".bytes", std::to_string(bytes));
    std::fprintf(stderr, "throughput: workload %s: %zu frames, %zu bytes, %zu captures\n", w.name.c_str(),
                 segs_frames, bytes, w.segs.size());

    // Checks: every classifier against strata.
    const std::size_t bad100 = check_p100(w, w.name == "mix" ? 97 : 1);
    const std::size_t bad1000 = check_p1000(w, w.name == "mix" ? 997 : 7);
    note("check." + w.name + ".path-keys", "hand-100, runtime-10/100 vs strata: " + std::to_string(bad100) +
                                               " mismatches; runtime-1000: " + std::to_string(bad1000) +
                                               " (every path key, sampled frames)");
    failed_checks = failed_checks || bad100 || bad1000;
    const auto s10 = outcomes_s10(w), s100 = outcomes_s100(w), p1000 = outcomes_p1000(w);
    for (const bool batched : {false, true}) {
      const std::string suffix = batched ? "-batch" : "";
      note("check." + w.name + ".strata-s10-pipeline" + suffix,
           check_identical(s10, library_outcomes_s10(w, batched), failed_checks));
      note("check." + w.name + ".strata-s100-pipeline" + suffix,
           check_identical(s100, library_outcomes_s100(w, batched), failed_checks));
      note("check." + w.name + ".strata-1000-pipeline" + suffix,
           check_identical(p1000, library_outcomes_p1000(w, batched), failed_checks));
    }
    std::vector<contender_info> winfos = infos;
    for (const auto& [name, expr, out] :
         {std::tuple{"s10", bench_bpf::s10, &s10}, std::tuple{"s100", bench_bpf::s100, &s100}}) {
      bpf_progs.push_back(compile_bpf(w, expr));
      const bpf_programs& p = bpf_progs.back();
      if (!p.error.empty()) {
        std::fprintf(stderr, "throughput: pcap_compile %s: %s\n", name, p.error.c_str());
        continue;
      }
      note("bpf." + std::string(name) + ".instructions." + w.name, std::to_string(p.instructions));
      note("check." + w.name + ".bpf-" + name, check_bpf(w, p, *out));
      winfos.push_back({std::string("bpf-") + name, "stateless",
                        [&p](const workload& wl) { return std::make_unique<bpf_contender>(wl, p); }});
    }
    if (acl) note("check." + w.name + ".rte_acl", check_outcomes(p1000, acl_outcomes(w)));

    // One warm-up pass each (flows in the tables, code and data in the caches), then engine cross-checks.
    std::map<std::string, contender*> by_name;
    for (const contender_info& info : winfos) {
      auto c = info.make(w);
      c->pass();
      by_name[info.name] = c.get();
      all.push_back({w.name + "/" + info.name, std::move(c)});
    }
    for (const auto& [a, b] :
         {std::pair{"strata-100", "hand-100"}, std::pair{"strata-100", "runtime-100"},
          std::pair{"strata-10", "runtime-10"}, std::pair{"strata-1000", "runtime-1000"},
          std::pair{"floor", "floor-batch"}, std::pair{"strata-s100", "strata-s100-batch"}}) {
      const bool same =
          by_name[a]->blocked() == by_name[b]->blocked() && by_name[a]->hits() == by_name[b]->hits();
      note("check." + w.name + "." + b,
           std::string(same ? "same" : "DIFFERENT") + " blocked count and per-filter decisions as " + a +
               " (" + std::to_string(by_name[a]->blocked()) + " blocked in the warm-up pass)");
      failed_checks = failed_checks || !same;
    }
    for (const char* n : {"floor", "strata-10", "strata-100", "strata-1000", "strata-s100"})
      note("blocked." + w.name + "." + n, std::to_string(by_name[n]->blocked()));
  }
  if (failed_checks) std::fprintf(stderr, "throughput: CHECKS FAILED (see the context)\n");
  note("checks", failed_checks ? "FAILED" : "passed");
  if (check_only) {
    std::fprintf(stderr, "throughput: checks %s\n", failed_checks ? "FAILED" : "passed");
    return failed_checks ? 1 : 0;
  }

  for (registered& r : all) {
    const std::size_t packets = std::find_if(workloads.begin(), workloads.end(), [&](const workload& w) {
                                  return r.name.rfind(w.name + "/", 0) == 0;
                                })->packets();
    contender* c = r.c.get();
    benchmark::RegisterBenchmark(r.name.c_str(), [c, packets](benchmark::State& st) {
      for (auto _ : st) c->pass();
      st.counters["packets"] = static_cast<double>(packets);
      st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * packets));
    })->Unit(benchmark::kMillisecond);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return failed_checks ? 1 : 0;
}
