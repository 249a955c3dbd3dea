// The observed host, live (traversal.md §1, §3), read from the kernel over netlink (libmnl):
//
// * `host_monitor`: the host's local addresses from rtnetlink (a dump, then RTM_NEWADDR/RTM_DELADDR
//   notifications on RTMGRP_IPV4_IFADDR/RTMGRP_IPV6_IFADDR keep them current), and the watched
//   interfaces' link state (RTMGRP_LINK: down, up again, removed). `snapshot()` is a `strata::host`;
//   `generation()` changes whenever the addresses do.
// * `socket_table`: listening TCP and bound UDP sockets from NETLINK_SOCK_DIAG (inet_diag), with the
//   question the engine asks for a new inbound flow: does a socket want it?
// * `listener_cache`: a socket table answering the engine's listener hook at classification time
//   (refreshed when its snapshot predates the packet, at most once per `min_interval`).
// * `listen_watch`: new listening TCP sockets since the last look, for the passive-open socket event.
//
// Everything here is opened in the constructor, so a caller that switched network namespace
// (setns) to open it may switch back: netlink sockets stay in the namespace they were made in.
// Unprivileged users may do all of it. CMake target strata::live (libmnl).
#pragma once

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <strata/address.hpp>
#include <strata/field.hpp>
#include <strata/flow/flow_table.hpp>
#include <strata/host.hpp>
#include <strata/live/af_packet.hpp>

namespace strata::live {

namespace detail {

/// A netlink socket (libmnl) with a bounded dump loop.
class netlink {
 public:
  netlink(int bus, unsigned groups, const char* what) {
    nl_ = ::mnl_socket_open2(bus, SOCK_CLOEXEC);
    if (nl_ == nullptr) throw system_error("", what, errno);
    if (::mnl_socket_bind(nl_, groups, MNL_SOCKET_AUTOPID) < 0) {
      const int e = errno;
      ::mnl_socket_close(nl_);
      throw system_error("", what, e);
    }
    portid_ = ::mnl_socket_get_portid(nl_);
    int on = 1;  // a dump larger than the socket buffer: report ENOBUFS instead of losing messages silently
    ::mnl_socket_setsockopt(nl_, NETLINK_BROADCAST_ERROR, &on, sizeof on);
  }
  netlink(const netlink&) = delete;
  netlink& operator=(const netlink&) = delete;
  ~netlink() {
    if (nl_) ::mnl_socket_close(nl_);
  }
  int fd() const noexcept { return ::mnl_socket_get_fd(nl_); }

  /// Sends `req` (a dump request) and hands every reply message to `on`, until NLMSG_DONE.
  /// Notifications arriving meanwhile go to `on` too. false on an error (errno kept).
  template <class F>
  bool dump(nlmsghdr* req, F&& on) {
    req->nlmsg_seq = ++seq_;
    req->nlmsg_pid = 0;
    if (::mnl_socket_sendto(nl_, req, req->nlmsg_len) < 0) return false;
    return receive(seq_, on, true);
  }
  /// Sends `req` (not a dump) and hands the reply message(s) of one receive to `on`. false on an error
  /// (an NLMSG_ERROR reply included; errno kept).
  template <class F>
  bool request(nlmsghdr* req, F&& on) {
    req->nlmsg_seq = ++seq_;
    req->nlmsg_pid = 0;
    if (::mnl_socket_sendto(nl_, req, req->nlmsg_len) < 0) return false;
    return receive(seq_, on, false);
  }
  /// Reads the messages waiting (call when poll() says readable): one recv.
  template <class F>
  bool read_pending(F&& on) {
    return receive(0, on, false);
  }

 private:
  template <class F>
  bool receive(unsigned seq, F& on, bool until_done) {
    std::vector<char>& buf = buf_;
    buf.resize(1u << 16);
    for (int i = 0; i < 100000; ++i) {  // bounded: a dump of 100k buffers is not a host
      const ssize_t n = ::mnl_socket_recvfrom(nl_, buf.data(), buf.size());
      if (n < 0) return false;
      auto cb = [](const nlmsghdr* h, void* data) -> int {
        (*static_cast<F*>(data))(h);
        return MNL_CB_OK;
      };
      const int rc = ::mnl_cb_run(buf.data(), static_cast<std::size_t>(n), seq, portid_, cb, &on);
      if (rc == MNL_CB_STOP) return true;
      if (rc == MNL_CB_ERROR) return false;
      if (!until_done) return true;
    }
    return false;
  }

  mnl_socket* nl_ = nullptr;
  unsigned portid_ = 0;
  unsigned seq_ = static_cast<unsigned>(::time(nullptr));
  std::vector<char> buf_;
};

/// Calls `f(const nlattr*)` for each attribute after the first `offset` payload bytes of `h`.
template <class F>
void for_each_attr(const nlmsghdr* h, std::size_t offset, F&& f) {
  const auto* a = static_cast<const nlattr*>(::mnl_nlmsg_get_payload_offset(h, offset));
  const char* tail = static_cast<const char*>(::mnl_nlmsg_get_payload_tail(h));
  while (::mnl_attr_ok(a, static_cast<int>(tail - reinterpret_cast<const char*>(a)))) {
    f(a);
    a = ::mnl_attr_next(a);
  }
}

inline address address_from(int fam, const void* data) {
  if (fam == AF_INET) {
    std::uint32_t v;
    std::memcpy(&v, data, 4);
    return address::from_v4(ntohl(v));
  }
  return address::from_v6(static_cast<const std::uint8_t*>(data));
}

}  // namespace detail

/// One socket of the host's socket table.
struct socket_entry {
  family fam = family::none;
  std::uint8_t protocol = 0;  ///< proto::tcp or proto::udp
  std::uint8_t state = 0;     ///< TCP state (TCP_LISTEN = 10); UDP: 7 unconnected, 1 connected
  address local{};
  std::uint16_t local_port = 0;
  address remote{};
  std::uint16_t remote_port = 0;  ///< 0: not connected
  bool v6only = false;
  std::uint32_t bound_interface = 0;  ///< SO_BINDTODEVICE, 0 = any
  std::uint32_t inode = 0;
  std::uint64_t cookie = 0;

  /// Whether this socket takes a new inbound flow (its SYN, its first datagram).
  bool accepts(family f, std::uint8_t p, address dst, std::uint16_t dport, address src,
               std::uint16_t sport) const {
    if (protocol != p || local_port != dport) return false;
    bool addr_ok = false;
    if (fam == f) {
      addr_ok = local == address{} || local == dst;
    } else if (fam == family::v6 && f == family::v4 && !v6only) {  // a dual-stack socket takes IPv4 too
      const address mapped{0, 0x0000ffff00000000ull | dst.v4()};
      addr_ok = local == address{} || local == mapped;
    }
    if (!addr_ok) return false;
    if (p == proto::udp && remote_port != 0) {  // connected UDP: only its peer
      if (remote_port != sport) return false;
      if (fam == f && remote != src) return false;
    }
    return true;
  }
};

/// The host's listening TCP and bound UDP sockets (NETLINK_SOCK_DIAG), refreshed on demand. Kept in four
/// parts (IPv4/IPv6 x TCP/UDP), each with the time it was read: a question needs only the parts that can
/// answer it (its protocol; an IPv4 question also IPv6, whose dual-stack sockets take IPv4), and a dump
/// walks the kernel's whole hash table of its protocol, so reading only those halves a refresh or better.
class socket_table {
 public:
  static constexpr std::size_t max_entries = 1u << 16;  ///< per part

  socket_table() : nl_(NETLINK_SOCK_DIAG, 0, "cannot open NETLINK_SOCK_DIAG") {}

  /// Dumps the table again (TCP listeners and/or every UDP socket, IPv4 and IPv6). false on an error
  /// (the parts that failed keep their previous contents).
  bool refresh(bool tcp = true, bool udp = true) {
    bool ok = true;
    if (tcp) ok = refresh_tcp();
    if (udp) ok = refresh_part(family::v4, proto::udp) && refresh_part(family::v6, proto::udp) && ok;
    if (ok) ++refreshes_;
    return ok;
  }

  /// Dumps one part again: the sockets of family `f` and protocol `p` (proto::tcp: listeners only).
  bool refresh_part(family f, std::uint8_t p) {
    const std::int64_t t = detail::realtime_ns();
    next_[0].clear();
    bool truncated[2] = {false, false};
    if (!dump(SOCK_DIAG_BY_FAMILY, f == family::v4 ? AF_INET : AF_INET6,
              p == proto::tcp ? IPPROTO_TCP : IPPROTO_UDP, p == proto::tcp ? 1u << TCP_LISTEN : ~0u,
              truncated))
      return false;
    commit(index(f, p), next_[0], truncated[0], t);
    return true;
  }

  /// Both TCP parts (IPv4 and IPv6 listeners) in one dump where the kernel has it: the older
  /// TCPDIAG_GETSOCK request dumps both families in one walk of the listening hash (a cold walk costs
  /// ~100 us, and the listen watch does it 10 times a second). Else two SOCK_DIAG_BY_FAMILY dumps.
  bool refresh_tcp() {
    const std::int64_t t = detail::realtime_ns();
    next_[0].clear();
    next_[1].clear();
    bool truncated[2] = {false, false};
    if (!compat_failed_ && dump(TCPDIAG_GETSOCK, AF_UNSPEC, IPPROTO_TCP, 1u << TCP_LISTEN, truncated)) {
      commit(index(family::v4, proto::tcp), next_[0], truncated[0], t);
      commit(index(family::v6, proto::tcp), next_[1], truncated[1], t);
      return true;
    }
    compat_failed_ = true;
    return refresh_part(family::v4, proto::tcp) && refresh_part(family::v6, proto::tcp);
  }

  /// -1: no table yet (or it was truncated and says nobody); 1: a socket takes the flow; 0: none.
  int listening(family f, std::uint8_t p, address dst, std::uint16_t dport, address src,
                std::uint16_t sport) const {
    if (p != proto::tcp && p != proto::udp) return -1;
    bool truncated = false;
    for (const part* pt : {&parts_[index(f, p)], f == family::v4 ? &parts_[index(family::v6, p)] : nullptr}) {
      if (pt == nullptr) continue;
      if (!pt->valid) return -1;
      for (const socket_entry& e : pt->entries)
        if (e.accepts(f, p, dst, dport, src, sport)) return 1;
      truncated = truncated || pt->truncated;
    }
    return truncated ? -1 : 0;
  }

  /// Asks the kernel which socket takes a UDP datagram from `src`:`sport` to `dst`:`dport` now: the
  /// lookup it makes for a packet (sock_diag, one socket, no dump; IPv4 also finds dual-stack IPv6
  /// sockets, as delivery does). 1: a socket; 0: none; -1: no answer (an error).
  int lookup_udp(family f, address dst, std::uint16_t dport, address src, std::uint16_t sport) {
    struct {
      nlmsghdr nlh;
      inet_diag_req_v2 r;
    } req{};
    req.nlh.nlmsg_len = sizeof req;
    req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    req.nlh.nlmsg_flags = NLM_F_REQUEST;
    req.r.sdiag_family = static_cast<std::uint8_t>(f == family::v4 ? AF_INET : AF_INET6);
    req.r.sdiag_protocol = IPPROTO_UDP;
    req.r.idiag_states = ~0u;
    // The kernel looks up (idiag_src, idiag_sport) -> (idiag_dst, idiag_dport) as a packet's source and
    // destination.
    req.r.id.idiag_sport = htons(sport);
    req.r.id.idiag_dport = htons(dport);
    if (f == family::v4) {
      req.r.id.idiag_src[0] = htonl(src.v4());
      req.r.id.idiag_dst[0] = htonl(dst.v4());
    } else {
      const auto s = src.v6_bytes(), d = dst.v6_bytes();
      std::memcpy(req.r.id.idiag_src, s.data(), 16);
      std::memcpy(req.r.id.idiag_dst, d.data(), 16);
    }
    req.r.id.idiag_cookie[0] = req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    bool found = false;
    errno = 0;
    if (nl_.request(&req.nlh,
                    [&](const nlmsghdr* h) { found = found || h->nlmsg_type == SOCK_DIAG_BY_FAMILY; }))
      return found ? 1 : -1;
    return errno == ENOENT ? 0 : -1;  // ENOENT: no socket takes it
  }
  /// Whether a socket of protocol `p` on `port` is bound to a device (SO_BINDTODEVICE) in the table.
  bool device_bound(std::uint8_t p, std::uint16_t port) const noexcept {
    for (const part& pt : parts_)
      for (const socket_entry& e : pt.entries)
        if (e.protocol == p && e.local_port == port && e.bound_interface != 0) return true;
    return false;
  }

  /// The oldest read of the parts that answer a question of family `f` and protocol `p` (CLOCK_REALTIME
  /// ns, comparable with capture timestamps; 0 before the first).
  std::int64_t snapshot_ns(family f, std::uint8_t p) const noexcept {
    const std::int64_t a = parts_[index(f, p)].snapshot_ns;
    if (f != family::v4) return a;
    const std::int64_t b = parts_[index(family::v6, p)].snapshot_ns;
    return a < b ? a : b;
  }

  /// Every socket of the table (all parts).
  const std::vector<socket_entry>& entries() const {
    if (all_stale_) {
      all_.clear();
      for (const part& pt : parts_) all_.insert(all_.end(), pt.entries.begin(), pt.entries.end());
      all_stale_ = false;
    }
    return all_;
  }
  /// When the table was read: the oldest of its parts (CLOCK_REALTIME ns).
  std::int64_t snapshot_ns() const noexcept {
    std::int64_t t = parts_[0].snapshot_ns;
    for (const part& pt : parts_) t = pt.snapshot_ns < t ? pt.snapshot_ns : t;
    return t;
  }
  std::uint64_t refreshes() const noexcept { return refreshes_; }
  bool valid() const noexcept {
    for (const part& pt : parts_)
      if (!pt.valid) return false;
    return true;
  }

 private:
  struct part {
    std::vector<socket_entry> entries;
    std::int64_t snapshot_ns = 0;
    bool valid = false;
    bool truncated = false;
  };
  static std::size_t index(family f, std::uint8_t p) noexcept {
    return (f == family::v6 ? 2u : 0u) + (p == proto::udp ? 1u : 0u);
  }

  void commit(std::size_t i, std::vector<socket_entry>& fresh, bool truncated, std::int64_t t) {
    part& pt = parts_[i];
    pt.entries.swap(fresh);
    pt.snapshot_ns = t;
    pt.valid = true;
    pt.truncated = truncated;
    all_stale_ = true;
  }

  // One dump: SOCK_DIAG_BY_FAMILY (inet_diag_req_v2, one family) or TCPDIAG_GETSOCK (inet_diag_req,
  // both families). Sockets go to next_[0] (IPv4, or the one family asked) and next_[1] (IPv6, compat).
  bool dump(std::uint16_t type, int fam, int protocol, std::uint32_t states, bool (&truncated)[2]) {
    struct {
      nlmsghdr nlh;
      inet_diag_req_v2 r;
    } req{};
    struct {
      nlmsghdr nlh;
      inet_diag_req r;
    } compat{};
    nlmsghdr* nlh = &req.nlh;
    if (type == SOCK_DIAG_BY_FAMILY) {
      req.nlh.nlmsg_len = sizeof req;
      req.r.sdiag_family = static_cast<std::uint8_t>(fam);
      req.r.sdiag_protocol = static_cast<std::uint8_t>(protocol);
      req.r.idiag_states = states;
    } else {
      nlh = &compat.nlh;
      compat.nlh.nlmsg_len = sizeof compat;
      compat.r.idiag_states = states;
    }
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    const bool both = type != SOCK_DIAG_BY_FAMILY;
    return nl_.dump(nlh, [&](const nlmsghdr* h) {
      if (h->nlmsg_type != type) return;
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) return;
      const auto* m = static_cast<const inet_diag_msg*>(::mnl_nlmsg_get_payload(h));
      if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6) return;
      const std::size_t to = both && m->idiag_family == AF_INET6 ? 1 : 0;
      if (next_[to].size() >= max_entries) {
        truncated[to] = true;
        return;
      }
      socket_entry e;
      e.fam = m->idiag_family == AF_INET ? family::v4 : family::v6;
      e.protocol = static_cast<std::uint8_t>(protocol);
      e.state = m->idiag_state;
      e.local = detail::address_from(m->idiag_family, m->id.idiag_src);
      e.remote = detail::address_from(m->idiag_family, m->id.idiag_dst);
      e.local_port = ntohs(m->id.idiag_sport);
      e.remote_port = ntohs(m->id.idiag_dport);
      e.bound_interface = m->id.idiag_if;
      e.inode = m->idiag_inode;
      e.cookie = (static_cast<std::uint64_t>(m->id.idiag_cookie[1]) << 32) | m->id.idiag_cookie[0];
      if (e.local_port == 0) return;  // not bound to a port: takes nothing
      detail::for_each_attr(h, sizeof(inet_diag_msg), [&](const nlattr* a) {
        if (::mnl_attr_get_type(a) == INET_DIAG_SKV6ONLY && ::mnl_attr_get_payload_len(a) >= 1)
          e.v6only = ::mnl_attr_get_u8(a) != 0;
      });
      if (e.fam == family::v6 &&
          (e.local.hi == 0 && (e.local.lo >> 32) == 0xffff)) {  // bound to a v4-mapped address
        e.fam = family::v4;
        e.local = address::from_v4(static_cast<std::uint32_t>(e.local.lo));
      }
      next_[to].push_back(e);
    });
  }

  detail::netlink nl_;
  part parts_[4];
  std::vector<socket_entry> next_[2];
  bool compat_failed_ = false;
  mutable std::vector<socket_entry> all_;
  mutable bool all_stale_ = true;
  std::uint64_t refreshes_ = 0;
};

/// The engine's live listener oracle (engine::use_listener_hook): a socket table of its own (one per
/// worker: nothing shared, no lock), whose parts that answer a question are read again when they are
/// older than the packet being classified, at most once per `min_interval` per protocol. Only new inbound
/// flows ask, so the cost is one or two sock_diag dumps per new inbound flow at most, and at most
/// 2/min_interval refreshes a second.
class listener_cache {
 public:
  explicit listener_cache(std::chrono::nanoseconds min_interval = std::chrono::milliseconds(1))
      : min_interval_(min_interval.count()) {
    table_.refresh();
    last_refresh_[0] = last_refresh_[1] = detail::monotonic_ns();
  }

  /// The hook's signature: engine.use_listener_hook(&listener_cache::hook, &cache).
  static int hook(void* self, const flow::flow_key& k, std::int64_t time_ns) {
    return static_cast<listener_cache*>(self)->answer(k, time_ns);
  }

  int answer(const flow::flow_key& k, std::int64_t time_ns) {
    if (k.protocol != proto::tcp && k.protocol != proto::udp) return -1;
    cached& c =
        cache_[(k.local_port ^ (k.remote_port * 31u) ^ static_cast<std::uint32_t>(k.remote.lo)) % cache_size];
    if (!(c.key == k)) c = {k};
    if (table_.snapshot_ns(k.fam, k.protocol) < time_ns) {
      // Answered by an exact lookup made after the packet arrived: as fresh as a read of the table then.
      if (c.exact_ns >= time_ns) {
        ++answers_;
        return c.exact_answer;
      }
      std::int64_t& last = last_refresh_[k.protocol == proto::udp ? 1 : 0];
      const std::int64_t now = detail::monotonic_ns();
      // A UDP question asks the kernel for its socket alone (~3 us; reading both UDP parts walks the kernel's
      // whole UDP hash table twice, ~20 us): at most two a min_interval, besides the table's reads, so a
      // flood of one flow never reads the table and many new flows still get it read as before. Not for a
      // port with a socket bound to a device: the lookup would need the packet's interface.
      if (k.protocol == proto::udp && now - last_exact_ >= min_interval_ / 2 &&
          !table_.device_bound(k.protocol, k.local_port)) {
        last_exact_ = now;
        const std::int64_t t = detail::realtime_ns();
        if (const int a = table_.lookup_udp(k.fam, k.local, k.local_port, k.remote, k.remote_port); a >= 0) {
          ++exact_lookups_;
          c.exact_ns = t;
          c.exact_answer = a;
          ++answers_;
          return a;
        }
      }
      if (now - last >= min_interval_) {
        last = now;
        if (k.fam == family::v6)
          table_.refresh_part(family::v6, k.protocol);
        else if (k.protocol == proto::tcp)
          table_.refresh_tcp();  // IPv4 and IPv6 (dual-stack listeners take IPv4)
        else
          table_.refresh_part(family::v4, k.protocol), table_.refresh_part(family::v6, k.protocol);
        ++refreshes_;
        ++generation_;
      } else {
        ++stale_answers_;
      }
    }
    ++answers_;
    // A flow that gets no flow entry (a datagram or SYN to a closed port) asks again on every packet: its
    // answer is kept until the table is read again, instead of walking the table each time.
    if (c.generation == generation_) return c.answer;
    c.answer = table_.listening(k.fam, k.protocol, k.local, k.local_port, k.remote, k.remote_port);
    c.generation = generation_;
    return c.answer;
  }

  const socket_table& table() const noexcept { return table_; }
  std::uint64_t answers() const noexcept { return answers_; }
  /// Answers given from a snapshot older than the packet because of the rate limit.
  std::uint64_t stale_answers() const noexcept { return stale_answers_; }
  /// Times the table (the parts a question needed) was read again.
  std::uint64_t refreshes() const noexcept { return refreshes_; }
  /// UDP questions answered by an exact lookup of their socket instead of a read of the table.
  std::uint64_t exact_lookups() const noexcept { return exact_lookups_; }

 private:
  struct cached {
    flow::flow_key key{};
    std::uint64_t generation = 0;  // of the table answer; 0: none
    int answer = -1;
    int exact_answer = -1;
    std::int64_t exact_ns = 0;  // when the exact lookup was made (CLOCK_REALTIME); 0: none
  };
  static constexpr std::size_t cache_size = 16;

  socket_table table_;
  std::int64_t min_interval_;
  std::int64_t last_refresh_[2] = {0, 0};  // TCP, UDP
  std::int64_t last_exact_ = 0;
  std::uint64_t generation_ = 1;  // bumped by every read of the table: older answers are void
  std::uint64_t exact_lookups_ = 0;
  std::array<cached, cache_size> cache_{};
  std::uint64_t answers_ = 0;
  std::uint64_t stale_answers_ = 0;
  std::uint64_t refreshes_ = 0;
};

/// New listening TCP sockets since the last look (the passive-open socket event). The first look
/// is the baseline: sockets already listening then are not new.
class listen_watch {
 public:
  listen_watch() { table_.refresh(true, false), remember(); }

  std::vector<socket_entry> poll() {
    std::vector<socket_entry> fresh;
    if (!table_.refresh(true, false)) return fresh;
    for (const socket_entry& e : table_.entries())
      if (!known_.count(key(e))) fresh.push_back(e);
    remember();
    return fresh;
  }

 private:
  using key_t = std::tuple<std::uint64_t, std::uint32_t, std::uint16_t>;
  static key_t key(const socket_entry& e) { return {e.cookie, e.inode, e.local_port}; }
  void remember() {
    known_.clear();
    for (const socket_entry& e : table_.entries()) known_.insert(key(e));
  }
  socket_table table_;
  std::set<key_t> known_;
};

/// Which interface the host's route to an address leaves by (RTM_GETROUTE), cached (bounded, 10 s):
/// for a forwarded packet seen leaving, the interface it arrived on is the one its source is reached
/// by (the reverse path, what rp_filter checks). One per worker: nothing shared.
class route_cache {
 public:
  route_cache() : nl_(NETLINK_ROUTE, 0, "cannot open rtnetlink (routes)") {}

  /// The output interface of the route to `a`, 0 when there is none.
  std::uint32_t interface_to(family f, address a, std::int64_t now_ns) {
    const std::uint64_t key = a.hi * 0x9e3779b97f4a7c15ull ^ a.lo ^ static_cast<std::uint64_t>(f);
    for (const auto& e : entries_)
      if (e.key == key && e.fam == f && e.addr == a && now_ns < e.expires) return e.ifindex;
    std::uint32_t oif = 0;
    alignas(nlmsghdr) char buf[256] = {};
    nlmsghdr* h = ::mnl_nlmsg_put_header(buf);
    h->nlmsg_type = RTM_GETROUTE;
    h->nlmsg_flags = NLM_F_REQUEST;
    auto* rt = static_cast<rtmsg*>(::mnl_nlmsg_put_extra_header(h, sizeof(rtmsg)));
    rt->rtm_family = f == family::v4 ? AF_INET : AF_INET6;
    rt->rtm_dst_len = f == family::v4 ? 32 : 128;
    if (f == family::v4) {
      const std::uint32_t v = htonl(a.v4());
      ::mnl_attr_put(h, RTA_DST, 4, &v);
    } else {
      const auto b = a.v6_bytes();
      ::mnl_attr_put(h, RTA_DST, 16, b.data());
    }
    nl_.request(h, [&](const nlmsghdr* r) {
      if (r->nlmsg_type != RTM_NEWROUTE) return;
      detail::for_each_attr(r, sizeof(rtmsg), [&](const nlattr* at) {
        if (::mnl_attr_get_type(at) == RTA_OIF && ::mnl_attr_get_payload_len(at) >= 4)
          oif = ::mnl_attr_get_u32(at);
      });
    });
    if (entries_.size() >= 4096) entries_.clear();
    entries_.push_back({key, f, a, oif, now_ns + 10'000'000'000});
    return oif;
  }

 private:
  struct entry {
    std::uint64_t key;
    family fam;
    address addr;
    std::uint32_t ifindex;
    std::int64_t expires;
  };
  detail::netlink nl_;
  std::vector<entry> entries_;
};

/// A change of a watched interface's link, from rtnetlink.
struct link_event {
  std::uint32_t ifindex = 0;
  std::string name;
  enum kind_t : std::uint8_t { down, up, removed } kind = down;
};

/// The observed host's addresses (every interface of the host's network namespace: the kernel takes
/// a packet for any of them), kept current from rtnetlink, plus the watched interfaces' link state.
class host_monitor {
 public:
  /// `extra` are added to the kernel's addresses (the CLI's --local); `hints` are --listen/--closed.
  /// `watched` are the interface indexes whose link changes are reported by `process()`.
  host_monitor(std::vector<std::string> extra = {}, std::vector<port_hint> hints = {},
               std::vector<std::uint32_t> watched = {})
      : nl_(NETLINK_ROUTE, RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR, "cannot open rtnetlink"),
        extra_(std::move(extra)),
        hints_(std::move(hints)),
        watched_(std::move(watched)) {
    for (const auto& l : extra_) {
      host probe;
      if (!probe.add_local(l))
        throw error(errc::invalid_argument, "", EINVAL, "--local " + l + ": not an address or prefix");
    }
    for (std::uint32_t i : watched_) up_.push_back({i, true});
    if (!resync()) throw detail::system_error("", "rtnetlink address dump", errno);
  }

  int fd() const noexcept { return nl_.fd(); }

  /// Reads pending notifications (when fd() is readable). Returns the link events of watched interfaces.
  std::vector<link_event> process() {
    std::vector<link_event> events;
    if (!nl_.read_pending([&](const nlmsghdr* h) { on_message(h, &events); })) {
      if (errno == ENOBUFS) resync();  // notifications were lost: read everything again
    }
    return events;
  }

  /// The observed host now (addresses, then the extra ones, and the hints).
  host snapshot() const {
    std::lock_guard lock(mutex_);
    return snapshot_;
  }
  /// Changes whenever the addresses do (compare, then take a new `snapshot()`).
  std::uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }
  /// Addresses beyond `host::capacity` that could not be kept.
  std::size_t overflow() const noexcept { return overflow_; }

 private:
  struct entry {
    std::uint32_t ifindex;
    int fam;
    address a;
    std::uint8_t len;
    auto tie() const { return std::tie(ifindex, fam, a.hi, a.lo, len); }
    bool operator<(const entry& o) const { return tie() < o.tie(); }
  };

  bool resync() {
    struct {
      nlmsghdr nlh;
      ifaddrmsg ifa;
    } req{};
    req.nlh.nlmsg_len = sizeof req;
    req.nlh.nlmsg_type = RTM_GETADDR;
    req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.ifa.ifa_family = AF_UNSPEC;
    addresses_.clear();
    const bool ok = nl_.dump(&req.nlh, [&](const nlmsghdr* h) { on_message(h, nullptr); });
    rebuild();
    return ok;
  }

  void on_message(const nlmsghdr* h, std::vector<link_event>* events) {
    if (h->nlmsg_type == RTM_NEWADDR || h->nlmsg_type == RTM_DELADDR) {
      const auto* ifa = static_cast<const ifaddrmsg*>(::mnl_nlmsg_get_payload(h));
      if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6) return;
      const void* local = nullptr;
      const void* addr = nullptr;
      const std::size_t want = ifa->ifa_family == AF_INET ? 4 : 16;
      detail::for_each_attr(h, sizeof(ifaddrmsg), [&](const nlattr* a) {
        if (::mnl_attr_get_payload_len(a) < want) return;
        if (::mnl_attr_get_type(a) == IFA_LOCAL) local = ::mnl_attr_get_payload(a);
        if (::mnl_attr_get_type(a) == IFA_ADDRESS) addr = ::mnl_attr_get_payload(a);
      });
      const void* p = local ? local : addr;  // IPv4 point-to-point: IFA_ADDRESS is the peer
      if (!p) return;
      entry e{ifa->ifa_index, ifa->ifa_family, detail::address_from(ifa->ifa_family, p), ifa->ifa_prefixlen};
      if (h->nlmsg_type == RTM_NEWADDR)
        addresses_.insert(e);
      else
        addresses_.erase(e);
      if (events) rebuild();  // a notification (a dump rebuilds once at its end)
      return;
    }
    if ((h->nlmsg_type == RTM_NEWLINK || h->nlmsg_type == RTM_DELLINK) && events) {
      const auto* ifi = static_cast<const ifinfomsg*>(::mnl_nlmsg_get_payload(h));
      for (auto& [index, up] : up_) {
        if (index != static_cast<std::uint32_t>(ifi->ifi_index)) continue;
        link_event ev;
        ev.ifindex = index;
        detail::for_each_attr(h, sizeof(ifinfomsg), [&](const nlattr* a) {
          if (::mnl_attr_get_type(a) == IFLA_IFNAME) ev.name = ::mnl_attr_get_str(a);
        });
        if (h->nlmsg_type == RTM_DELLINK) {
          ev.kind = link_event::removed;
          events->push_back(ev);
        } else if (const bool now_up = (ifi->ifi_flags & IFF_UP) != 0; now_up != up) {
          up = now_up;
          ev.kind = now_up ? link_event::up : link_event::down;
          events->push_back(ev);
        }
      }
    }
  }

  void rebuild() {
    host h;
    std::size_t overflow = 0;
    char buf[64];
    for (const entry& e : addresses_) {
      const family f = e.fam == AF_INET ? family::v4 : family::v6;
      const std::uint8_t full = f == family::v4 ? 32 : 128;
      std::size_t n = format_address(e.a, f, buf);
      const prefix net{e.a, e.len < full ? e.len : full, f};
      const bool host_bits = (e.a & net.mask()) != e.a;
      if (host_bits &&
          e.len < full) {  // "10.0.0.2/24": the address, and its subnet for the broadcast address
        n += static_cast<std::size_t>(std::snprintf(buf + n, sizeof buf - n, "/%u", e.len));
      }
      if (!h.add_local(std::string_view(buf, n))) ++overflow;
    }
    for (const auto& l : extra_)
      if (!h.add_local(l)) ++overflow;
    for (const auto& hint : hints_) h.add_hint(hint);
    {
      std::lock_guard lock(mutex_);
      snapshot_ = h;
    }
    overflow_ = overflow;
    generation_.fetch_add(1, std::memory_order_release);
  }

  detail::netlink nl_;
  std::vector<std::string> extra_;
  std::vector<port_hint> hints_;
  std::vector<std::uint32_t> watched_;
  std::vector<std::pair<std::uint32_t, bool>> up_;
  std::set<entry> addresses_;
  mutable std::mutex mutex_;
  host snapshot_;
  std::atomic<std::uint64_t> generation_{0};
  std::size_t overflow_ = 0;
};

}  // namespace strata::live
