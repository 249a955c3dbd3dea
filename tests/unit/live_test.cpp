// Live capture with real traffic (strata::live). Each test makes two network namespaces joined by a
// veth pair (host 10.98.1.2 / fd98:1::2, client 10.98.1.1 / fd98:1::1), runs real kernel TCP/UDP servers
// in the host namespace and clients in the client namespace, and classifies the host's side live
// while tcpdump captures the same interface; the capture is then classified offline. Every frame's
// live record must equal its offline record, and both must follow traversal.md for the handshake,
// data, closed-port and passive-open cases; the listener is decided live from sock_diag alone.
//
// Needs root (CAP_NET_ADMIN for namespaces, CAP_NET_RAW for packet sockets) and `ip`; tcpdump for the
// comparison. Skips cleanly otherwise. Namespaces are removed on every path (RAII). Each test < 30 s.
#include <gtest/gtest.h>

#if defined(STRATA_HAVE_LIVE) && defined(STRATA_HAVE_PCAP)

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <strata/engine.hpp>
#include <strata/flow/answers.hpp>
#include <strata/io/format.hpp>
#include <strata/io/pcap_file.hpp>
#include <strata/live/af_packet.hpp>
#include <strata/live/host_monitor.hpp>
#include <strata/live/session.hpp>
#include <strata/policy.hpp>

namespace {

using namespace std::chrono_literals;

inline constexpr auto live_observe = strata::policy();
using live_engine = strata::engine<live_observe>;

bool have_tool(const char* t) {
  return std::system((std::string("command -v ") + t + " >/dev/null 2>&1").c_str()) == 0;
}
int sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

/// Two namespaces and a veth pair, removed by the destructor (also when a test fails half-way).
struct netns_pair {
  std::string host, client;
  std::string error;
  explicit netns_pair(const std::string& tag) {
    const std::string id = std::to_string(::getpid()) + tag;
    host = "strata-lt" + id + "h";
    client = "strata-lt" + id + "c";
    remove();
    const std::vector<std::string> cmds = {
        "ip netns add " + host,
        "ip netns add " + client,
        // no DAD, router solicitations or RA processing: fewer frames, addresses usable at once
        "ip netns exec " + host +
            " sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.default.router_solicitations=0 "
            "net.ipv6.conf.default.accept_ra=0",
        "ip netns exec " + client +
            " sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.default.router_solicitations=0 "
            "net.ipv6.conf.default.accept_ra=0",
        "ip -n " + host + " link add veth-h type veth peer name veth-c netns " + client,
        "ip -n " + host + " addr add 10.98.1.2/24 dev veth-h",
        "ip -n " + host + " addr add fd98:1::2/64 dev veth-h nodad",
        "ip -n " + client + " addr add 10.98.1.1/24 dev veth-c",
        "ip -n " + client + " addr add fd98:1::1/64 dev veth-c nodad",
        "ip -n " + host + " link set lo up",
        "ip -n " + client + " link set lo up",
        "ip -n " + host + " link set veth-h up",
        "ip -n " + client + " link set veth-c up",
        // static neighbours: no ARP/ND in the middle of the exchanges
        "ip -n " + host + " neigh replace 10.98.1.1 lladdr $(ip -n " + client +
            " -br link show veth-c | awk '{print $3}') dev veth-h nud permanent",
    };
    for (const auto& c : cmds)
      if (sh(c) != 0) {
        error = "setup failed: " + c;
        return;
      }
    // wire-size frames (no GSO/TSO super-frames), as scripts/make-capture does; optional
    if (have_tool("ethtool"))
      for (const auto& [ns, dev] : {std::pair{host, "veth-h"}, std::pair{client, "veth-c"}})
        sh("ip netns exec " + ns + " ethtool -K " + dev + " tx off rx off gso off tso off gro off sg off");
  }
  ~netns_pair() { remove(); }
  void remove() {
    sh("ip netns del " + host);
    sh("ip netns del " + client);
  }
  bool ok() const { return error.empty(); }
};

/// Enters network namespace `ns` on the calling thread.
bool enter_netns(const std::string& ns) {
  const int fd = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::setns(fd, CLONE_NEWNET) == 0;
  ::close(fd);
  return ok;
}

/// Runs `f` on a thread inside `ns` and waits for it.
template <class F>
void in_netns(const std::string& ns, F&& f) {
  std::thread t([&] {
    if (enter_netns(ns)) f();
  });
  t.join();
}

// ---- small kernel sockets ------------------------------------------------------------------------

sockaddr_storage sockaddr_of(const std::string& addr, std::uint16_t port, socklen_t& len) {
  sockaddr_storage ss{};
  if (addr.find(':') == std::string::npos) {
    auto* s = reinterpret_cast<sockaddr_in*>(&ss);
    s->sin_family = AF_INET;
    s->sin_port = htons(port);
    ::inet_pton(AF_INET, addr.c_str(), &s->sin_addr);
    len = sizeof(sockaddr_in);
  } else {
    auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(port);
    ::inet_pton(AF_INET6, addr.c_str(), &s->sin6_addr);
    len = sizeof(sockaddr_in6);
  }
  return ss;
}

bool readable(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) > 0;
}

/// TCP and UDP servers in the host namespace, bounded by `until` and a stop flag: TCP answers one
/// request line per connection and closes after the client does; UDP echoes with a prefix.
struct servers {
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  std::promise<void> ready;
  std::atomic<int> listening{0};

  void start(const std::string& ns, std::vector<std::string> addrs, std::uint16_t tcp_port,
             std::uint16_t udp_port) {
    for (const auto& a : addrs) {
      threads.emplace_back([this, ns, a, tcp_port] { tcp(ns, a, tcp_port); });
      threads.emplace_back([this, ns, a, udp_port] { udp(ns, a, udp_port); });
    }
  }
  void wait_listening(int n) {
    for (int i = 0; i < 500 && listening.load() < n; ++i) std::this_thread::sleep_for(10ms);
  }
  ~servers() {
    stop = true;
    for (auto& t : threads) t.join();
  }

  void tcp(const std::string& ns, const std::string& a, std::uint16_t port) {
    if (!enter_netns(ns)) return;
    socklen_t len;
    const auto ss = sockaddr_of(a, port, len);
    const int s = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int on = 1;
    ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (::bind(s, reinterpret_cast<const sockaddr*>(&ss), len) != 0 || ::listen(s, 8) != 0) {
      ::close(s);
      return;
    }
    ++listening;
    for (int i = 0; i < 3000 && !stop; ++i) {
      if (!readable(s, 10)) continue;
      const int c = ::accept4(s, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      char buf[512];
      std::string req;
      // Patient reads: closing with unread data would answer with a RST (a well-behaved server does not).
      for (int k = 0; k < 200 && req.find('\n') == std::string::npos && readable(c, 2000); ++k) {
        const ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        req.append(buf, static_cast<std::size_t>(n));
      }
      const std::string resp = "response to " + req;
      [[maybe_unused]] auto w = ::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
      for (int k = 0; k < 300 && readable(c, 2000); ++k)  // until the client's FIN
        if (::recv(c, buf, sizeof buf, 0) <= 0) break;
      ::close(c);
    }
    ::close(s);
  }

  void udp(const std::string& ns, const std::string& a, std::uint16_t port) {
    if (!enter_netns(ns)) return;
    socklen_t len;
    const auto ss = sockaddr_of(a, port, len);
    const int s = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (::bind(s, reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
      ::close(s);
      return;
    }
    ++listening;
    for (int i = 0; i < 3000 && !stop; ++i) {
      if (!readable(s, 10)) continue;
      char buf[512];
      sockaddr_storage peer{};
      socklen_t pl = sizeof peer;
      const ssize_t n = ::recvfrom(s, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&peer), &pl);
      if (n <= 0) continue;
      const std::string resp = "response to " + std::string(buf, static_cast<std::size_t>(n));
      ::sendto(s, resp.data(), resp.size(), 0, reinterpret_cast<sockaddr*>(&peer), pl);
    }
    ::close(s);
  }
};

/// What a client step observed.
struct outcome {
  bool ok = false;
  int err = 0;
};

outcome tcp_exchange(const std::string& a, std::uint16_t port) {
  socklen_t len;
  const auto ss = sockaddr_of(a, port, len);
  const int s = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{2, 0};
  ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  outcome o;
  if (::connect(s, reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
    o.err = errno;
    ::close(s);
    return o;
  }
  std::this_thread::sleep_for(30ms);
  const std::string req = "strata live request\n";
  [[maybe_unused]] auto w = ::send(s, req.data(), req.size(), MSG_NOSIGNAL);
  char buf[512];
  const ssize_t n = ::recv(s, buf, sizeof buf, 0);
  o.ok = n > 0;
  std::this_thread::sleep_for(30ms);
  ::shutdown(s, SHUT_WR);
  for (int k = 0; k < 100; ++k)
    if (::recv(s, buf, sizeof buf, 0) <= 0) break;
  ::close(s);
  return o;
}

outcome udp_exchange(const std::string& a, std::uint16_t port) {
  socklen_t len;
  const auto ss = sockaddr_of(a, port, len);
  const int s = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  timeval tv{2, 0};
  ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  outcome o;
  ::connect(s, reinterpret_cast<const sockaddr*>(&ss), len);  // connected: a port unreachable is reported
  const std::string req = "strata live datagram";
  [[maybe_unused]] auto w = ::send(s, req.data(), req.size(), 0);
  char buf[512];
  const ssize_t n = ::recv(s, buf, sizeof buf, 0);
  o.ok = n > 0;
  o.err = n < 0 ? errno : 0;
  ::close(s);
  return o;
}

// ---- tcpdump ---------------------------------------------------------------------------------------

struct tcpdump {
  pid_t pid = -1;
  std::string log;
  bool start(const std::string& ns, const std::string& dev, const std::string& file) {
    log = file + ".log";
    pid = ::fork();
    if (pid == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(fd, 2);
      // --immediate-mode: without it libpcap's ring hands frames over when a block retires (tcpdump's
      // 1 s timeout), and a stop before then lost the last frames of the test's traffic.
      ::execlp("ip", "ip", "netns", "exec", ns.c_str(), "tcpdump", "-i", dev.c_str(), "-w", file.c_str(),
               "-U", "--immediate-mode", "-n", "-s", "262144", "--time-stamp-precision=nano", "-Z", "root",
               static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 500; ++i) {  // up to 5 s for "listening on"
      std::ifstream in(log);
      std::stringstream ss;
      ss << in.rdbuf();
      if (ss.str().find("listening on") != std::string::npos) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
  void stop() {
    if (pid <= 0) return;
    ::kill(pid, SIGTERM);
    for (int i = 0; i < 300; ++i) {
      if (::waitpid(pid, nullptr, WNOHANG) == pid) {
        pid = -1;
        return;
      }
      std::this_thread::sleep_for(10ms);
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    pid = -1;
  }
  ~tcpdump() { stop(); }
};

// ---- records -------------------------------------------------------------------------------------

struct seen_frame {
  std::vector<std::byte> bytes;
  std::int64_t time = 0;
  std::string json;  // the record without its frame number
  strata::record rec;
};

std::string json_without_frame(const strata::record& r) {
  std::string s;
  strata::io::append_json<live_engine>(s, r);
  const auto comma = s.find(',');
  return "{" + s.substr(comma + 1);
}

std::vector<std::string> layers(const strata::record& r) {
  std::vector<std::string> v;
  for (const auto& s : r.steps) v.emplace_back(strata::short_identifier(s.layer));
  return v;
}

std::vector<std::string> expect(std::initializer_list<const char*> v4, bool v6) {
  std::vector<std::string> v;
  for (const char* l : v4) {
    std::string s = l;
    if (auto at = s.find("_V4"); v6 && at != std::string::npos) s.replace(at, 3, "_V6");
    v.push_back(s);
  }
  return v;
}

/// The flow's key regardless of direction (for per-flow ordering).
std::string flow_key(const strata::packet::parsed& p) {
  char a[48], b[48];
  const auto na = strata::format_address(p.src, p.fam, a);
  const auto nb = strata::format_address(p.dst, p.fam, b);
  std::string x = std::string(a, na) + ":" + std::to_string(p.src_port);
  std::string y = std::string(b, nb) + ":" + std::to_string(p.dst_port);
  if (y < x) std::swap(x, y);
  return std::to_string(p.protocol) + " " + x + " " + y;
}

bool can_run(std::string& why) {
  if (::geteuid() != 0) {
    why = "needs root (CAP_NET_ADMIN for network namespaces, CAP_NET_RAW for packet sockets)";
    return false;
  }
  if (!have_tool("ip")) {
    why = "needs ip (iproute2)";
    return false;
  }
  if (sh("ip netns add strata-lt-probe" + std::to_string(::getpid())) != 0) {
    why = "cannot create network namespaces here";
    return false;
  }
  sh("ip netns del strata-lt-probe" + std::to_string(::getpid()));
  return true;
}

}  // namespace

// The main live test: real traffic, live records == offline records of a simultaneous tcpdump capture,
// spec checks, listener from sock_diag, passive-open events, two fan-out workers.
TEST(Live, RealTrafficMatchesOfflineAndSpec) {
  std::string why;
  if (!can_run(why)) GTEST_SKIP() << why;
  if (!have_tool("tcpdump")) GTEST_SKIP() << "needs tcpdump (the simultaneous capture)";
  netns_pair ns("a");
  ASSERT_TRUE(ns.ok()) << ns.error;
  const auto dir = std::filesystem::temp_directory_path() / ("strata-live-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string pcap = (dir / "veth-h.pcap").string();

  tcpdump dump;
  ASSERT_TRUE(dump.start(ns.host, "veth-h", pcap)) << "tcpdump did not start";

  // The live session, opened inside the host namespace (its sockets stay there).
  strata::live::session_options so;
  so.capture.interfaces = {"veth-h"};
  so.workers = 2;
  so.keep_frames = true;
  so.duration = 25s;  // a bound in case the test's own stop never comes
  std::unique_ptr<strata::live::session<live_engine>> s;
  std::string open_error;
  in_netns(ns.host, [&] {
    try {
      s = std::make_unique<strata::live::session<live_engine>>(so);
    } catch (const std::exception& e) {
      open_error = e.what();
    }
  });
  ASSERT_TRUE(s) << open_error;
  std::vector<seen_frame> live;
  std::vector<strata::record> events;
  std::thread runner([&] {
    s->run([&](const strata::live::output& o) {
      if (o.event) {
        events.push_back(o.rec);
        return;
      }
      seen_frame f;
      f.bytes.assign(o.frame.data.begin(), o.frame.data.end());
      f.time = o.frame.time.time_since_epoch().count();
      f.json = json_without_frame(o.rec);
      f.rec = o.rec;
      live.push_back(std::move(f));
    });
  });
  const strata::host observed = s->monitor().snapshot();

  {
    servers srv;  // listeners appear after the session started: passive-open events
    srv.start(ns.host, {"10.98.1.2", "fd98:1::2"}, 8080, 5354);
    srv.wait_listening(4);
    std::this_thread::sleep_for(300ms);  // > listen_poll: the events are reported before the traffic
    in_netns(ns.client, [&] {
      for (const std::string a : {"10.98.1.2", "fd98:1::2"}) {
        EXPECT_TRUE(tcp_exchange(a, 8080).ok) << a;
        std::this_thread::sleep_for(50ms);
        EXPECT_EQ(tcp_exchange(a, 9).err, ECONNREFUSED) << a;
        std::this_thread::sleep_for(50ms);
        EXPECT_TRUE(udp_exchange(a, 5354).ok) << a;
        std::this_thread::sleep_for(50ms);
        EXPECT_EQ(udp_exchange(a, 9999).err, ECONNREFUSED) << a;
        std::this_thread::sleep_for(50ms);
      }
    });
    std::this_thread::sleep_for(300ms);  // the last frames reach both captures
  }
  std::this_thread::sleep_for(100ms);
  const std::int64_t t_close = strata::live::detail::realtime_ns();
  s->request_stop();
  runner.join();
  // On a loaded machine tcpdump writes the last frames late: stop it once its file has stopped
  // growing for 300 ms (at most 5 s), so that the comparison does not lose the capture's tail.
  {
    std::uintmax_t size = 0;
    int stable = 0;
    for (int i = 0; i < 100 && stable < 6; ++i) {
      std::this_thread::sleep_for(50ms);
      std::error_code ec;
      const std::uintmax_t now = std::filesystem::file_size(pcap, ec);
      stable = (!ec && now == size) ? stable + 1 : 0;
      size = ec ? 0 : now;
    }
  }
  dump.stop();
  // The window both captures cover: from the first live frame (the live sockets were bound before it;
  // tcpdump was already running) to the stop request. Background frames outside it (e.g. IPv6 MLD
  // reports) may be in one capture only; the offline engine starts at the same frame as the live one.
  std::erase_if(live, [&](const seen_frame& f) { return f.time > t_close; });
  ASSERT_FALSE(live.empty());
  std::int64_t t_open = live.front().time;
  for (const auto& f : live) t_open = std::min(t_open, f.time);
  const auto kernel = s->kernel();
  ASSERT_EQ(kernel.size(), 1u);
  EXPECT_EQ(kernel[0].second.drops, 0u);

  // The same traffic, offline: the capture, the same host, the answers pre-pass (no hints).
  std::vector<seen_frame> offline;
  {
    auto reader = strata::io::pcap_reader::open(pcap);
    ASSERT_TRUE(reader) << reader.error().what();
    strata::flow::answer_index answers;
    for (const auto& f : *reader)
      answers.add(strata::packet::parse(f, reader->link_type()), observed, f.index,
                  f.time.time_since_epoch().count());
    auto again = strata::io::pcap_reader::open(pcap);
    ASSERT_TRUE(again);
    strata::engine_config ec;
    ec.link = again->link_type();
    live_engine e(observed, ec);
    e.use_answers(&answers);
    for (const auto& f : *again) {
      const std::int64_t t = f.time.time_since_epoch().count();
      if (t < t_open || t > t_close) continue;  // the engines start at the same frame
      seen_frame o;
      o.bytes.assign(f.data.begin(), f.data.end());
      o.time = f.time.time_since_epoch().count();
      o.rec = e.classify(f);
      o.json = json_without_frame(o.rec);
      offline.push_back(std::move(o));
    }
  }
  std::filesystem::remove_all(dir);

  // Link-local IPv6 chatter (MLD, router and neighbour discovery from fe80:: or ::) comes when the
  // kernel pleases: whether one of its frames is a flow's first depends on frames outside the window.
  // It is not the test's traffic; leave it out of the comparison on both sides.
  auto background = [](const seen_frame& f) {
    const auto p =
        strata::packet::parse(std::span<const std::byte>(f.bytes), strata::packet::link_type::ethernet,
                              static_cast<std::uint32_t>(f.bytes.size()));
    return p.ok() && p.fam == strata::family::v6 &&
           ((p.src.hi >> 54) == (0xfe80ull >> 6) || p.src == strata::address{});
  };
  std::erase_if(live, background);
  std::erase_if(offline, background);

  // Every frame: the same bytes in both, the same record.
  ASSERT_GT(offline.size(), 30u);
  EXPECT_EQ(live.size(), offline.size());
  std::vector<bool> used(offline.size(), false);
  std::map<std::string, std::size_t> last_offline_index;  // per flow: live order == capture order
  std::size_t matched = 0;
  for (const seen_frame& l : live) {
    std::size_t best = offline.size();
    std::int64_t best_dt = 0;
    for (std::size_t j = 0; j < offline.size(); ++j) {
      if (used[j] || offline[j].bytes != l.bytes) continue;
      const std::int64_t dt = std::llabs(offline[j].time - l.time);
      if (best == offline.size() || dt < best_dt) best = j, best_dt = dt;
    }
    if (best == offline.size()) {
      ADD_FAILURE() << "live frame not in the tcpdump capture: " << l.json;
      continue;
    }
    used[best] = true;
    ++matched;
    EXPECT_EQ(l.json, offline[best].json) << "live and offline records differ";
    const auto p =
        strata::packet::parse(std::span<const std::byte>(l.bytes), strata::packet::link_type::ethernet,
                              static_cast<std::uint32_t>(l.bytes.size()));
    if (p.ok()) {
      const std::string k = flow_key(p);
      auto it = last_offline_index.find(k);
      if (it != last_offline_index.end()) {
        EXPECT_LT(it->second, best) << "a flow's records were reordered: " << k;
      }
      last_offline_index[k] = best;
    }
  }
  EXPECT_EQ(matched, offline.size());

  // The spec (traversal.md §4), per frame kind, on the live records.
  int syn_open = 0, syn_closed = 0, syn_ack = 0, final_ack = 0, data_in = 0, data_out = 0, udp_first = 0,
      udp_closed = 0, icmp_error = 0, udp_reply = 0;
  std::map<std::string, int> tcp_state;  // 1: SYN-ACK sent (the next inbound ACK is the handshake's last)
  for (const seen_frame& l : live) {
    const auto p =
        strata::packet::parse(std::span<const std::byte>(l.bytes), strata::packet::link_type::ethernet,
                              static_cast<std::uint32_t>(l.bytes.size()));
    if (!p.ok()) continue;
    const bool v6 = p.fam == strata::family::v6;
    const auto& r = l.rec;
    const auto L = layers(r);
    const std::string why_ = l.json;
    if (p.l4 == strata::packet::l4_kind::tcp) {
      const std::string k = flow_key(p);
      const bool syn = p.tcp.is_syn() && !p.tcp.is_syn_ack();
      if (r.dir == strata::traffic_direction::inbound && syn && p.dst_port == 8080) {
        ++syn_open;
        EXPECT_EQ(L, expect({"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4", "ALE_AUTH_RECV_ACCEPT_V4"}, v6))
            << why_;
      } else if (r.dir == strata::traffic_direction::inbound && syn && p.dst_port == 9) {
        ++syn_closed;  // no hint, no answer index: only the socket table says nobody listens
        EXPECT_EQ(L, expect({"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4_DISCARD"}, v6)) << why_;
        EXPECT_TRUE(r.blocked()) << why_;
      } else if (r.dir == strata::traffic_direction::outbound && p.tcp.is_syn_ack()) {
        ++syn_ack;
        tcp_state[k] = 1;
        EXPECT_EQ(L, expect({"OUTBOUND_TRANSPORT_V4", "OUTBOUND_IPPACKET_V4"}, v6)) << why_;
      } else if (r.dir == strata::traffic_direction::inbound && tcp_state[k] == 1 && p.payload_length == 0 &&
                 !p.tcp.is_rst()) {
        ++final_ack;
        tcp_state[k] = 2;
        EXPECT_EQ(L, expect({"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4", "ALE_FLOW_ESTABLISHED_V4"}, v6))
            << why_;
      } else if (r.dir == strata::traffic_direction::inbound && tcp_state[k] == 2 && p.payload_length > 0) {
        ++data_in;
        EXPECT_EQ(L, expect({"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4", "STREAM_V4"}, v6)) << why_;
      } else if (r.dir == strata::traffic_direction::outbound && tcp_state[k] == 2 && p.payload_length > 0) {
        ++data_out;
        EXPECT_EQ(L, expect({"STREAM_V4", "OUTBOUND_TRANSPORT_V4", "OUTBOUND_IPPACKET_V4"}, v6)) << why_;
      }
    } else if (p.l4 == strata::packet::l4_kind::udp && r.dir == strata::traffic_direction::inbound) {
      if (p.dst_port == 5354) {
        ++udp_first;
        EXPECT_EQ(L, expect({"INBOUND_IPPACKET_V4", "INBOUND_TRANSPORT_V4", "ALE_AUTH_RECV_ACCEPT_V4",
                             "ALE_FLOW_ESTABLISHED_V4", "DATAGRAM_DATA_V4"},
                            v6))
            << why_;
      } else if (p.dst_port == 9999) {
        ++udp_closed;
        EXPECT_EQ(L, expect({"INBOUND_IPPACKET_V4", "INBOUND_IPPACKET_V4_DISCARD"}, v6)) << why_;
      }
    } else if (p.l4 == strata::packet::l4_kind::udp && r.dir == strata::traffic_direction::outbound &&
               p.src_port == 5354) {
      ++udp_reply;
      EXPECT_EQ(L, expect({"DATAGRAM_DATA_V4", "OUTBOUND_TRANSPORT_V4", "OUTBOUND_IPPACKET_V4"}, v6)) << why_;
    } else if (p.is_icmp_error() && r.dir == strata::traffic_direction::outbound) {
      ++icmp_error;
      EXPECT_EQ(L, expect({"OUTBOUND_ICMP_ERROR_V4", "OUTBOUND_TRANSPORT_V4", "OUTBOUND_IPPACKET_V4"}, v6))
          << why_;
    }
  }
  EXPECT_EQ(syn_open, 2);
  EXPECT_EQ(syn_closed, 2);
  EXPECT_EQ(syn_ack, 2);
  EXPECT_EQ(final_ack, 2);
  EXPECT_EQ(data_in, 2);
  EXPECT_EQ(data_out, 2);
  EXPECT_EQ(udp_first, 2);
  EXPECT_EQ(udp_reply, 2);
  EXPECT_EQ(udp_closed, 2);
  EXPECT_EQ(icmp_error, 2);

  // Passive opens (socket events): one per new listening socket, never inside a packet's trace.
  int listen_events = 0;
  for (const auto& ev : events) {
    if (ev.flow.src_port != 8080) continue;
    ++listen_events;
    const bool v6 = ev.flow.fam == strata::family::v6;
    EXPECT_EQ(layers(ev),
              expect({"ALE_BIND_REDIRECT_V4", "ALE_RESOURCE_ASSIGNMENT_V4", "ALE_AUTH_LISTEN_V4"}, v6));
  }
  EXPECT_EQ(listen_events, 2);
}

// traversal.md §6 with both interfaces of a router watched: a forwarded packet is classified where it
// arrives (IPFORWARD) and its departing copy is reported with no steps and "dup": true.
TEST(Live, ForwardedPacketsAreClassifiedWhereTheyArrive) {
  std::string why;
  if (!can_run(why)) GTEST_SKIP() << why;
  const std::string id = std::to_string(::getpid());
  struct three_ns {
    std::vector<std::string> names;
    ~three_ns() {
      for (const auto& n : names) sh("ip netns del " + n);
    }
  } ns{{"strata-lt" + id + "fc", "strata-lt" + id + "fr", "strata-lt" + id + "fi"}};
  const std::string C = ns.names[0], R = ns.names[1], I = ns.names[2];
  for (const auto& c : std::vector<std::string>{
           "ip netns add " + C, "ip netns add " + R, "ip netns add " + I,
           "ip netns exec " + R + " sysctl -qw net.ipv4.ip_forward=1",
           "ip -n " + R + " link add veth-c type veth peer name veth-r netns " + C,
           "ip -n " + R + " link add veth-i type veth peer name veth-r netns " + I,
           "ip -n " + C + " addr add 10.98.3.1/24 dev veth-r",
           "ip -n " + R + " addr add 10.98.3.2/24 dev veth-c",
           "ip -n " + R + " addr add 10.98.4.1/24 dev veth-i",
           "ip -n " + I + " addr add 10.98.4.2/24 dev veth-r", "ip -n " + C + " link set veth-r up",
           "ip -n " + R + " link set veth-c up", "ip -n " + R + " link set veth-i up",
           "ip -n " + I + " link set veth-r up", "ip -n " + C + " route add default via 10.98.3.2",
           "ip -n " + I + " route add default via 10.98.4.1"})
    ASSERT_EQ(sh(c), 0) << c;

  strata::live::session_options so;
  so.capture.interfaces = {"veth-c", "veth-i"};
  so.duration = 20s;
  so.socket_events = false;
  std::unique_ptr<strata::live::session<live_engine>> s;
  std::string open_error;
  in_netns(R, [&] {
    try {
      s = std::make_unique<strata::live::session<live_engine>>(so);
    } catch (const std::exception& e) {
      open_error = e.what();
    }
  });
  ASSERT_TRUE(s) << open_error;
  std::vector<strata::record> recs;
  std::vector<bool> outgoing;
  std::thread runner([&] {
    s->run([&](const strata::live::output& o) {
      if (o.event) return;
      recs.push_back(o.rec);
      outgoing.push_back(o.frame.outgoing);
    });
  });
  {
    servers srv;
    srv.start(I, {"10.98.4.2"}, 8080, 5354);
    srv.wait_listening(2);
    in_netns(C, [&] {
      EXPECT_TRUE(udp_exchange("10.98.4.2", 5354).ok);
      EXPECT_TRUE(tcp_exchange("10.98.4.2", 8080).ok);
    });
    std::this_thread::sleep_for(200ms);
  }
  s->request_stop();
  runner.join();

  int arrivals = 0, departures = 0;
  for (std::size_t i = 0; i < recs.size(); ++i) {
    const auto& r = recs[i];
    if (r.dir != strata::traffic_direction::forwarded) continue;
    std::string j;
    strata::io::append_json<live_engine>(j, r);
    if (outgoing[i]) {
      ++departures;
      EXPECT_TRUE(r.dup) << j;
      EXPECT_EQ(r.steps.size(), 0u) << j;
    } else {
      ++arrivals;
      EXPECT_FALSE(r.dup) << j;
      EXPECT_EQ(layers(r), std::vector<std::string>{"IPFORWARD_V4"}) << j;
    }
  }
  EXPECT_GE(arrivals, 10);  // a datagram and its answer, a TCP exchange
  EXPECT_EQ(arrivals, departures);
}

TEST(Live, MissingInterfaceIsAClearError) {
  strata::live::capture_options o;
  o.interfaces = {"strata-none0"};
  try {
    strata::live::source src(o);
    FAIL() << "opened a missing interface";
  } catch (const strata::live::error& e) {
    if (::geteuid() == 0) {
      EXPECT_EQ(e.code(), strata::live::errc::no_such_interface);
      EXPECT_NE(std::string(e.what()).find("strata-none0: no such interface"), std::string::npos) << e.what();
    } else {  // without CAP_NET_RAW the socket itself is refused first
      EXPECT_EQ(e.code(), strata::live::errc::permission_denied) << e.what();
    }
  }
}

TEST(Live, WithoutCapNetRawIsPermissionDenied) {
  if (::geteuid() != 0) {  // already unprivileged: try directly
    strata::live::capture_options o;
    o.interfaces = {"lo"};
    try {
      strata::live::source src(o);
      GTEST_SKIP() << "this user may open packet sockets (has CAP_NET_RAW)";
    } catch (const strata::live::error& e) {
      EXPECT_EQ(e.code(), strata::live::errc::permission_denied);
      EXPECT_NE(std::string(e.what()).find("CAP_NET_RAW"), std::string::npos) << e.what();
    }
    return;
  }
  // As root: a child that became nobody (uid 65534) must be refused with a message naming CAP_NET_RAW.
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipefd[0]);
    std::string msg = "no error";
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) {
      msg = "setuid failed";
    } else {
      strata::live::capture_options o;
      o.interfaces = {"lo"};
      try {
        strata::live::source src(o);
        msg = "opened";
      } catch (const strata::live::error& e) {
        msg = std::string(e.code() == strata::live::errc::permission_denied ? "EPERM " : "OTHER ") + e.what();
      }
    }
    [[maybe_unused]] auto w = ::write(pipefd[1], msg.data(), msg.size());
    ::_exit(0);
  }
  ::close(pipefd[1]);
  char buf[512];
  std::string msg;
  for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof buf)) > 0;) msg.append(buf, static_cast<std::size_t>(n));
  ::close(pipefd[0]);
  ::waitpid(pid, nullptr, 0);
  EXPECT_EQ(msg.rfind("EPERM ", 0), 0u) << msg;
  EXPECT_NE(msg.find("CAP_NET_RAW"), std::string::npos) << msg;
}

// The socket table alone: a listener appears in it, a closed port does not (both families).
TEST(Live, SocketTableAnswersTheListenerQuestion) {
  std::string why;
  if (!can_run(why)) GTEST_SKIP() << why;
  netns_pair ns("b");
  ASSERT_TRUE(ns.ok()) << ns.error;
  in_netns(ns.host, [&] {
    const int s = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);  // dual-stack [::]:8081
    int off = 0;
    ::setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    socklen_t len;
    auto ss = sockaddr_of("::", 8081, len);
    ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&ss), len), 0);
    strata::live::listen_watch watch;  // baseline: nothing listens yet
    ASSERT_EQ(::listen(s, 4), 0);
    strata::live::socket_table t;
    ASSERT_TRUE(t.refresh());
    const auto h4 = strata::parse_address("10.98.1.2").value();
    const auto c4 = strata::parse_address("10.98.1.1").value();
    EXPECT_EQ(t.listening(strata::family::v4, strata::proto::tcp, h4, 8081, c4, 40000),
              1);  // v4 into a dual-stack socket
    EXPECT_EQ(t.listening(strata::family::v4, strata::proto::tcp, h4, 9, c4, 40000), 0);
    EXPECT_EQ(t.listening(strata::family::v4, strata::proto::udp, h4, 8081, c4, 40000), 0);
    const auto fresh = watch.poll();
    ASSERT_EQ(fresh.size(), 1u);
    EXPECT_EQ(fresh[0].local_port, 8081);
    EXPECT_TRUE(watch.poll().empty());  // reported once
    ::close(s);
  });
}

// The exact UDP lookup (listener_cache's fast path) gives the table's answers: wildcard, address-bound,
// connected, dual-stack and v6-only sockets, open and closed ports, both families.
TEST(Live, ExactUdpLookupMatchesTheSocketTable) {
  std::string why;
  if (!can_run(why)) GTEST_SKIP() << why;
  netns_pair ns("u");
  ASSERT_TRUE(ns.ok()) << ns.error;
  in_netns(ns.host, [&] {
    std::vector<int> fds;
    auto udp = [&](int fam, const char* addr, std::uint16_t port, int v6only = -1) {
      const int s = ::socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (v6only >= 0) ::setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
      socklen_t len;
      auto ss = sockaddr_of(addr, port, len);
      EXPECT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&ss), len), 0) << addr << " " << port;
      fds.push_back(s);
      return s;
    };
    udp(AF_INET, "0.0.0.0", 5301);
    udp(AF_INET, "10.98.1.2", 5302);
    udp(AF_INET6, "::", 5303, 0);  // dual-stack
    udp(AF_INET6, "::", 5304, 1);  // v6 only
    const int c = udp(AF_INET, "0.0.0.0", 5305);
    socklen_t len;
    auto peer = sockaddr_of("10.98.1.1", 40001, len);
    ASSERT_EQ(::connect(c, reinterpret_cast<sockaddr*>(&peer), len), 0);
    strata::live::socket_table t;
    ASSERT_TRUE(t.refresh());
    const auto h4 = strata::parse_address("10.98.1.2").value();
    const auto o4 = strata::parse_address("10.98.1.3").value();
    const auto c4 = strata::parse_address("10.98.1.1").value();
    const auto h6 = strata::parse_address("fd98:1::2").value();
    const auto c6 = strata::parse_address("fd98:1::1").value();
    int found = 0;
    for (std::uint16_t port : {5301, 5302, 5303, 5304, 5305, 9})
      for (std::uint16_t sport : {40000, 40001}) {
        for (const auto& dst : {h4, o4}) {
          const int table = t.listening(strata::family::v4, strata::proto::udp, dst, port, c4, sport);
          EXPECT_EQ(t.lookup_udp(strata::family::v4, dst, port, c4, sport), table) << port << " " << sport;
          found += table == 1;
        }
        const int table = t.listening(strata::family::v6, strata::proto::udp, h6, port, c6, sport);
        EXPECT_EQ(t.lookup_udp(strata::family::v6, h6, port, c6, sport), table)
            << "v6 " << port << " " << sport;
        found += table == 1;
      }
    EXPECT_GE(found, 8);  // the questions are not all "nobody"
    for (int s : fds) ::close(s);
  });
}

#else

TEST(Live, NotBuilt) { GTEST_SKIP() << "strata::live (libmnl, libcap-ng) or libpcap not available"; }

#endif
