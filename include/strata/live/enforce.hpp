// Enforcing mode on Linux: the host's own traffic on the named interfaces is queued to user space
// (NFQUEUE), classified by the engine, and given the record's verdict (NF_ACCEPT, or NF_DROP for a
// blocked packet, which includes a suppressed answer: the host's RST or ICMP unreachable).
//
//   strata::live::enforce_options o;
//   o.interfaces = {"eth0"};
//   strata::live::enforcer<strata::engine<stealth>> e(o);  // binds the queue, removes a stale table,
//                                                          // installs the rules (throws live::error)
//   strata::live::drop_privileges("nobody", {CAP_NET_ADMIN});  // verdicts and the removal need it
//   e.run([](const strata::live::output& out) { ... });   // until a bound or request_stop()
//   // the destructor removes the rules (also on every error path)
//
// The rules live in a table of their own, `strata` (`strata-N` for queue N > 0), in the ip and ip6
// families: chains on the input and output hooks (priority 0) send the packets of each named
// interface to one queue. Forwarded packets and other interfaces' packets (loopback) are not queued. They are
// made and removed through nf_tables netlink messages (libmnl) from this process: no shell, no exec of `nft`,
// and the removal still works after the privilege drop (CAP_NET_ADMIN kept) and from a signal path. The queue
// step is the x_tables NFQUEUE target through nft_compat, because kernels built without CONFIG_NFT_QUEUE
// (like this project's CI kernel) have only that; every Debian kernel has both (`nft list ruleset` shows such
// rules without their target).
//
// When the process dies without removing its rules:
// * fail-open: the rules carry the NFQUEUE bypass flag (no listener: accept) and the tables are owned
//   by the process's netlink socket (NFT_TABLE_F_OWNER), so the kernel deletes them with the socket;
//   a full queue accepts too (NFQA_CFG_F_FAIL_OPEN).
// * fail-closed (the default): no bypass, tables not owned: the interfaces' traffic is dropped until
//   the next start removes the stale tables (or `nft delete table ip strata; nft delete table ip6 strata`).
//
// Per packet: one recv into a buffer sized at construction, attribute parsing into an array on the
// stack, the engine, one sendto of a verdict built on the stack. No heap, no exception, no virtual call.
// CMake target strata::enforce (libnetfilter_queue, strata::live).
#pragma once

#include <strata/engine.hpp>
#include <strata/live/af_packet.hpp>
#include <strata/live/host_monitor.hpp>
#include <strata/live/session.hpp>

// The kernel's nfnetlink.h first: libnfnetlink ships an older copy under the same include guard,
// without nf_tables' subsystem and batch messages.
#include <linux/netfilter/nfnetlink.h>
// clang-format off
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
// clang-format on
#include <fcntl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_tables_compat.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <net/if.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace strata::live {

namespace detail {

inline error netfilter_error(const std::string& what, int e) {
  const bool perm = e == EPERM || e == EACCES;
  std::string msg = what + ": " + std::strerror(e);
  if (perm) msg += " (needs CAP_NET_ADMIN: run as root)";
  return error(perm ? errc::permission_denied : errc::system, "", e, msg);
}

/// A NETLINK_NETFILTER socket (libmnl) with a receive timeout, so that no exchange can hang.
class nf_socket {
 public:
  explicit nf_socket(const char* what) {
    nl_ = ::mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
    if (nl_ == nullptr) throw netfilter_error(what, errno);
    if (::mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0) {
      const int e = errno;
      ::mnl_socket_close(nl_);
      throw netfilter_error(what, e);
    }
    timeval tv{2, 0};
    ::setsockopt(fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    portid_ = ::mnl_socket_get_portid(nl_);
  }
  nf_socket(const nf_socket&) = delete;
  nf_socket& operator=(const nf_socket&) = delete;
  ~nf_socket() {
    if (nl_) ::mnl_socket_close(nl_);
  }
  mnl_socket* get() const noexcept { return nl_; }
  int fd() const noexcept { return ::mnl_socket_get_fd(nl_); }
  unsigned portid() const noexcept { return portid_; }

  /// Sends `len` bytes of requests and waits for `acks` acknowledgements (NLMSG_ERROR replies).
  /// Returns 0, or the first error's errno.
  int exchange(const void* buf, std::size_t len, unsigned acks) noexcept {
    if (::mnl_socket_sendto(nl_, buf, len) < 0) return errno;
    alignas(nlmsghdr) char rx[8192];
    int first_error = 0;
    while (acks > 0) {
      const ssize_t n = ::mnl_socket_recvfrom(nl_, rx, sizeof rx);
      if (n < 0) return first_error ? first_error : (errno == EAGAIN ? ETIMEDOUT : errno);
      int left = static_cast<int>(n);
      for (auto* h = reinterpret_cast<const nlmsghdr*>(rx); ::mnl_nlmsg_ok(h, left);
           h = ::mnl_nlmsg_next(h, &left)) {
        if (h->nlmsg_type != NLMSG_ERROR) continue;
        const auto* err = static_cast<const nlmsgerr*>(::mnl_nlmsg_get_payload(h));
        if (err->error != 0) {
          // A failed batch is aborted whole: its other acknowledgements may not come.
          return -err->error;
        }
        if (acks > 0) --acks;
      }
    }
    return first_error;
  }

 private:
  mnl_socket* nl_ = nullptr;
  unsigned portid_ = 0;
};

}  // namespace detail

/// The tool's nftables tables (`ip NAME` and `ip6 NAME`), made and removed over nf_tables netlink.
class nft_rules {
 public:
  explicit nft_rules(std::string table = "strata")
      : table_(std::move(table)), nl_("cannot open nf_tables netlink") {
    if (table_.empty() || table_.size() >= NFT_TABLE_MAXNAMELEN)
      throw error(errc::invalid_argument, "", EINVAL, "bad table name");
  }

  /// Deletes both tables; returns how many existed. Safe to call again; noexcept: it is an exit path.
  int remove() noexcept {
    int existed = 0;
    for (const std::uint8_t fam : {std::uint8_t{NFPROTO_IPV4}, std::uint8_t{NFPROTO_IPV6}}) {
      batch b;
      auto* h = b.message(NFT_MSG_DELTABLE, NLM_F_ACK, fam);
      ::mnl_attr_put_strz(h, NFTA_TABLE_NAME, table_.c_str());
      const int rc = b.send(nl_);
      if (rc == 0) ++existed;
    }
    return existed;
  }

  /// Installs the tables in one transaction (all or nothing): per interface, its input packets and its
  /// output packets go to queue `queue`. `fail_open`: bypass flag, tables owned by this socket.
  void install(const std::vector<std::string>& interfaces, std::uint16_t queue, bool fail_open) {
    int rc = install_once(interfaces, queue, fail_open, fail_open);
    if (rc == EINVAL && fail_open)  // a kernel without owned tables (before 5.12): bypass alone
      rc = install_once(interfaces, queue, fail_open, false);
    if (rc != 0)
      throw detail::netfilter_error(
          "cannot install the nftables table " + table_ +
              (rc == ENOENT || rc == EOPNOTSUPP
                   ? " (the kernel lacks nf_tables, nft_compat or the NFQUEUE target)"
                   : ""),
          rc);
    installed_ = true;
  }
  bool installed() const noexcept { return installed_; }
  const std::string& table() const noexcept { return table_; }

 private:
  // One nf_tables transaction: BATCH_BEGIN, the messages, BATCH_END, in a buffer of its own.
  class batch {
   public:
    batch() {
      b_ = ::mnl_nlmsg_batch_start(buf_.data(), buf_.size());
      put_control(NFNL_MSG_BATCH_BEGIN);
    }
    batch(const batch&) = delete;
    batch& operator=(const batch&) = delete;
    ~batch() { ::mnl_nlmsg_batch_stop(b_); }

    nlmsghdr* message(std::uint16_t type, std::uint16_t flags, std::uint8_t fam) {
      if (last_) ::mnl_nlmsg_batch_next(b_);
      auto* h = ::mnl_nlmsg_put_header(::mnl_nlmsg_batch_current(b_));
      h->nlmsg_type = static_cast<std::uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | type);
      h->nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | flags);
      h->nlmsg_seq = ++seq_;
      auto* g = static_cast<nfgenmsg*>(::mnl_nlmsg_put_extra_header(h, sizeof(nfgenmsg)));
      g->nfgen_family = fam;
      g->version = NFNETLINK_V0;
      g->res_id = 0;
      last_ = h;
      if (flags & NLM_F_ACK) ++acks_;
      return h;
    }
    int send(detail::nf_socket& nl) {
      if (last_) ::mnl_nlmsg_batch_next(b_);
      last_ = nullptr;
      put_control(NFNL_MSG_BATCH_END);
      return nl.exchange(::mnl_nlmsg_batch_head(b_), ::mnl_nlmsg_batch_size(b_), acks_);
    }

   private:
    // The batch's opening or closing control message (addressed to the nf_tables subsystem).
    void put_control(std::uint16_t type) {
      auto* h = ::mnl_nlmsg_put_header(::mnl_nlmsg_batch_current(b_));
      h->nlmsg_type = type;
      h->nlmsg_flags = NLM_F_REQUEST;
      h->nlmsg_seq = ++seq_;
      auto* g = static_cast<nfgenmsg*>(::mnl_nlmsg_put_extra_header(h, sizeof(nfgenmsg)));
      g->nfgen_family = AF_UNSPEC;
      g->version = NFNETLINK_V0;
      g->res_id = htons(NFNL_SUBSYS_NFTABLES);
      ::mnl_nlmsg_batch_next(b_);
    }
    static inline std::uint32_t seq_ = static_cast<std::uint32_t>(::time(nullptr));
    alignas(nlmsghdr) std::array<char, 16384> buf_{};
    mnl_nlmsg_batch* b_ = nullptr;
    nlmsghdr* last_ = nullptr;
    unsigned acks_ = 0;
  };

  template <class F>
  static void put_expr(nlmsghdr* h, const char* name, F&& data) {
    nlattr* elem = ::mnl_attr_nest_start(h, NFTA_LIST_ELEM);
    ::mnl_attr_put_strz(h, NFTA_EXPR_NAME, name);
    nlattr* d = ::mnl_attr_nest_start(h, NFTA_EXPR_DATA);
    data();
    ::mnl_attr_nest_end(h, d);
    ::mnl_attr_nest_end(h, elem);
  }

  static void put_data(nlmsghdr* h, std::uint16_t type, const void* data, std::size_t len) {
    nlattr* d = ::mnl_attr_nest_start(h, type);
    ::mnl_attr_put(h, NFTA_DATA_VALUE, len, data);
    ::mnl_attr_nest_end(h, d);
  }
  static void put_cmp(nlmsghdr* h, std::uint32_t op, std::uint8_t value) {
    put_expr(h, "cmp", [&] {
      ::mnl_attr_put_u32(h, NFTA_CMP_SREG, htonl(NFT_REG_1));
      ::mnl_attr_put_u32(h, NFTA_CMP_OP, htonl(op));
      put_data(h, NFTA_CMP_DATA, &value, 1);
    });
  }
  static void put_l4proto_is(nlmsghdr* h, std::uint8_t protocol) {
    put_expr(h, "meta", [&] {
      ::mnl_attr_put_u32(h, NFTA_META_KEY, htonl(NFT_META_L4PROTO));
      ::mnl_attr_put_u32(h, NFTA_META_DREG, htonl(NFT_REG_1));
    });
    put_cmp(h, NFT_CMP_EQ, protocol);
  }
  static void put_accept(nlmsghdr* h) {
    put_expr(h, "immediate", [&] {
      ::mnl_attr_put_u32(h, NFTA_IMMEDIATE_DREG, htonl(NFT_REG_VERDICT));
      nlattr* d = ::mnl_attr_nest_start(h, NFTA_IMMEDIATE_DATA);
      nlattr* v = ::mnl_attr_nest_start(h, NFTA_DATA_VERDICT);
      ::mnl_attr_put_u32(h, NFTA_VERDICT_CODE, htonl(NF_ACCEPT));
      ::mnl_attr_nest_end(h, v);
      ::mnl_attr_nest_end(h, d);
    });
  }

  // The output chain's first rules: the kernel's own answers (a TCP RST, ICMP and ICMPv6 messages)
  // are not queued. Seen on this project's kernel (6.18): such a packet, sent from the kernel's
  // control socket, never reaches the queue and never leaves when the NFQUEUE target takes it, so a
  // closed port's RST (which a policy like `server` permits) would be lost. Their triggers are
  // queued and classified, and a trigger blocked at a discard layer is dropped, so a suppressed
  // answer never exists to be dropped.
  void put_answer_exemptions(batch& b, std::uint8_t fam) {
    auto rule = [&] {
      auto* r = b.message(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK, fam);
      ::mnl_attr_put_strz(r, NFTA_RULE_TABLE, table_.c_str());
      ::mnl_attr_put_strz(r, NFTA_RULE_CHAIN, "output");
      return r;
    };
    nlmsghdr* r = rule();  // tcp flags & rst != 0 accept
    nlattr* exprs = ::mnl_attr_nest_start(r, NFTA_RULE_EXPRESSIONS);
    put_l4proto_is(r, IPPROTO_TCP);
    put_expr(r, "payload", [&] {
      ::mnl_attr_put_u32(r, NFTA_PAYLOAD_DREG, htonl(NFT_REG_1));
      ::mnl_attr_put_u32(r, NFTA_PAYLOAD_BASE, htonl(NFT_PAYLOAD_TRANSPORT_HEADER));
      ::mnl_attr_put_u32(r, NFTA_PAYLOAD_OFFSET, htonl(13));  // the TCP flags
      ::mnl_attr_put_u32(r, NFTA_PAYLOAD_LEN, htonl(1));
    });
    put_expr(r, "bitwise", [&] {
      const std::uint8_t mask = 0x04, zero = 0;
      ::mnl_attr_put_u32(r, NFTA_BITWISE_SREG, htonl(NFT_REG_1));
      ::mnl_attr_put_u32(r, NFTA_BITWISE_DREG, htonl(NFT_REG_1));
      ::mnl_attr_put_u32(r, NFTA_BITWISE_LEN, htonl(1));
      put_data(r, NFTA_BITWISE_MASK, &mask, 1);
      put_data(r, NFTA_BITWISE_XOR, &zero, 1);
    });
    put_cmp(r, NFT_CMP_NEQ, 0);
    put_accept(r);
    ::mnl_attr_nest_end(r, exprs);
    r = rule();  // meta l4proto icmp / ipv6-icmp accept
    exprs = ::mnl_attr_nest_start(r, NFTA_RULE_EXPRESSIONS);
    put_l4proto_is(r, fam == NFPROTO_IPV4 ? std::uint8_t{IPPROTO_ICMP} : std::uint8_t{IPPROTO_ICMPV6});
    put_accept(r);
    ::mnl_attr_nest_end(r, exprs);
  }

  int install_once(const std::vector<std::string>& interfaces, std::uint16_t queue, bool bypass, bool owned) {
    batch b;
    for (const std::uint8_t fam : {std::uint8_t{NFPROTO_IPV4}, std::uint8_t{NFPROTO_IPV6}}) {
      auto* t = b.message(NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, fam);
      ::mnl_attr_put_strz(t, NFTA_TABLE_NAME, table_.c_str());
      if (owned) ::mnl_attr_put_u32(t, NFTA_TABLE_FLAGS, htonl(NFT_TABLE_F_OWNER));
      for (const auto& [chain, hook] :
           {std::pair{"input", NF_INET_LOCAL_IN}, std::pair{"output", NF_INET_LOCAL_OUT}}) {
        auto* c = b.message(NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_ACK, fam);
        ::mnl_attr_put_strz(c, NFTA_CHAIN_TABLE, table_.c_str());
        ::mnl_attr_put_strz(c, NFTA_CHAIN_NAME, chain);
        nlattr* hk = ::mnl_attr_nest_start(c, NFTA_CHAIN_HOOK);
        ::mnl_attr_put_u32(c, NFTA_HOOK_HOOKNUM, htonl(static_cast<std::uint32_t>(hook)));
        ::mnl_attr_put_u32(c, NFTA_HOOK_PRIORITY, htonl(0));
        ::mnl_attr_nest_end(c, hk);
        ::mnl_attr_put_u32(c, NFTA_CHAIN_POLICY, htonl(NF_ACCEPT));
        ::mnl_attr_put_strz(c, NFTA_CHAIN_TYPE, "filter");
        if (hook == NF_INET_LOCAL_OUT) put_answer_exemptions(b, fam);
        for (const auto& name : interfaces) {
          // meta iifname/oifname == NAME → NFQUEUE (x_tables target v3 through nft_compat)
          auto* r = b.message(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK, fam);
          ::mnl_attr_put_strz(r, NFTA_RULE_TABLE, table_.c_str());
          ::mnl_attr_put_strz(r, NFTA_RULE_CHAIN, chain);
          nlattr* exprs = ::mnl_attr_nest_start(r, NFTA_RULE_EXPRESSIONS);
          const std::uint32_t key = hook == NF_INET_LOCAL_IN ? NFT_META_IIFNAME : NFT_META_OIFNAME;
          put_expr(r, "meta", [&] {
            ::mnl_attr_put_u32(r, NFTA_META_KEY, htonl(key));
            ::mnl_attr_put_u32(r, NFTA_META_DREG, htonl(NFT_REG_1));
          });
          put_expr(r, "cmp", [&] {
            ::mnl_attr_put_u32(r, NFTA_CMP_SREG, htonl(NFT_REG_1));
            ::mnl_attr_put_u32(r, NFTA_CMP_OP, htonl(NFT_CMP_EQ));
            char ifname[IFNAMSIZ] = {};
            std::memcpy(ifname, name.data(), name.size() < IFNAMSIZ - 1 ? name.size() : IFNAMSIZ - 1);
            nlattr* data = ::mnl_attr_nest_start(r, NFTA_CMP_DATA);
            ::mnl_attr_put(r, NFTA_DATA_VALUE, sizeof ifname, ifname);
            ::mnl_attr_nest_end(r, data);
          });
          put_expr(r, "target", [&] {
            ::mnl_attr_put_strz(r, NFTA_TARGET_NAME, "NFQUEUE");
            ::mnl_attr_put_u32(r, NFTA_TARGET_REV, htonl(3));
            alignas(8) unsigned char info[8] = {};  // XT_ALIGN(sizeof(xt_NFQ_info_v3))
            xt_NFQ_info_v3 q{};
            q.queuenum = queue;
            q.queues_total = 1;
            q.flags = bypass ? NFQ_FLAG_BYPASS : 0;
            std::memcpy(info, &q, sizeof q);
            ::mnl_attr_put(r, NFTA_TARGET_INFO, sizeof info, info);
          });
          ::mnl_attr_nest_end(r, exprs);
        }
      }
    }
    return b.send(nl_);
  }

  std::string table_;
  detail::nf_socket nl_;
  bool installed_ = false;
};

/// One NFQUEUE queue bound by this process (copy mode: the whole packet up to `copy_range`).
class nfqueue {
 public:
  /// A queued packet (valid until the next `receive`).
  struct packet {
    std::uint32_t id = 0;
    std::span<const std::byte> data;
    std::uint32_t length = 0;  ///< the packet's length (more than data.size() when cut at copy_range)
    std::uint32_t ifindex = 0;
    bool outgoing = false;  ///< queued at the output hook
  };

  nfqueue(std::uint16_t num, bool fail_open, std::uint32_t max_length, std::uint32_t copy_range)
      : num_(num), nl_("cannot open nfnetlink_queue"), rx_(copy_range + 4096) {
    int on = 1;  // a full socket drops packets (the kernel counts them) instead of failing every recv
    ::setsockopt(nl_.fd(), SOL_NETLINK, NETLINK_NO_ENOBUFS, &on, sizeof on);
    int rcv = 8 << 20;
    if (::setsockopt(nl_.fd(), SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv) < 0)
      ::setsockopt(nl_.fd(), SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    alignas(nlmsghdr) char buf[512];
    nlmsghdr* h = ::nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, num_);
    h->nlmsg_flags |= NLM_F_ACK;
    ::nfq_nlmsg_cfg_put_cmd(h, AF_INET, NFQNL_CFG_CMD_BIND);
    if (const int rc = nl_.exchange(h, h->nlmsg_len, 1); rc != 0)
      throw detail::netfilter_error(
          "cannot bind NFQUEUE queue " + std::to_string(num_) +
              (rc == EBUSY ? " (in use by another program: choose one with --queue)" : ""),
          rc);
    h = ::nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, num_);
    h->nlmsg_flags |= NLM_F_ACK;
    ::nfq_nlmsg_cfg_put_params(h, NFQNL_COPY_PACKET, static_cast<int>(copy_range));
    ::nfq_nlmsg_cfg_put_qmaxlen(h, max_length);
    const std::uint32_t flags = fail_open ? NFQA_CFG_F_FAIL_OPEN : 0;
    ::mnl_attr_put_u32(h, NFQA_CFG_FLAGS, htonl(flags));
    ::mnl_attr_put_u32(h, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN));
    if (const int rc = nl_.exchange(h, h->nlmsg_len, 1); rc != 0)
      throw detail::netfilter_error("cannot configure NFQUEUE queue " + std::to_string(num_), rc);
    ::fcntl(nl_.fd(), F_SETFL, ::fcntl(nl_.fd(), F_GETFL) | O_NONBLOCK);
  }

  int fd() const noexcept { return nl_.fd(); }
  std::uint16_t number() const noexcept { return num_; }

  /// Reads what is waiting (one recv) and calls `on(const packet&)` for each packet; `on` returns the
  /// verdict (NF_ACCEPT, NF_DROP), sent at once, then `after()` runs (the packet is still valid).
  /// false when nothing was waiting.
  template <class F, class G>
  bool receive(F&& on, G&& after) {
    const ssize_t n = ::recv(nl_.fd(), rx_.data(), rx_.size(), 0);
    if (n <= 0) return false;
    int left = static_cast<int>(n);
    for (auto* h = reinterpret_cast<const nlmsghdr*>(rx_.data()); ::mnl_nlmsg_ok(h, left);
         h = ::mnl_nlmsg_next(h, &left)) {
      if (h->nlmsg_type != ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)) continue;
      nlattr* attr[NFQA_MAX + 1] = {};
      if (::nfq_nlmsg_parse(h, attr) < 0 || attr[NFQA_PACKET_HDR] == nullptr) continue;
      const auto* ph =
          static_cast<const nfqnl_msg_packet_hdr*>(::mnl_attr_get_payload(attr[NFQA_PACKET_HDR]));
      packet p;
      p.id = ntohl(ph->packet_id);
      p.outgoing = ph->hook == NF_INET_LOCAL_OUT || ph->hook == NF_INET_POST_ROUTING;
      if (attr[NFQA_PAYLOAD]) {
        p.data = {static_cast<const std::byte*>(::mnl_attr_get_payload(attr[NFQA_PAYLOAD])),
                  ::mnl_attr_get_payload_len(attr[NFQA_PAYLOAD])};
      }
      p.length = attr[NFQA_CAP_LEN] ? ntohl(::mnl_attr_get_u32(attr[NFQA_CAP_LEN]))
                                    : static_cast<std::uint32_t>(p.data.size());
      const int dev = p.outgoing ? NFQA_IFINDEX_OUTDEV : NFQA_IFINDEX_INDEV;
      if (attr[dev]) p.ifindex = ntohl(::mnl_attr_get_u32(attr[dev]));
      verdict(p.id, on(static_cast<const packet&>(p)));
      after();
    }
    return true;
  }

  /// Sends a verdict for packet `id`.
  void verdict(std::uint32_t id, int v) noexcept {
    alignas(nlmsghdr) char buf[128];
    nlmsghdr* h = ::nfq_nlmsg_put(buf, NFQNL_MSG_VERDICT, num_);
    ::nfq_nlmsg_verdict_put(h, static_cast<int>(id), v);
    if (::mnl_socket_sendto(nl_.get(), h, h->nlmsg_len) < 0) ++verdict_errors_;
  }
  std::uint64_t verdict_errors() const noexcept { return verdict_errors_; }

  /// The kernel's counters of this queue (/proc/net/netfilter/nfnetlink_queue): packets dropped
  /// because the queue was full, and because the socket was full. {0, 0} when unreadable.
  std::pair<std::uint64_t, std::uint64_t> kernel_drops() const {
    std::ifstream in("/proc/net/netfilter/nfnetlink_queue");
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream s(line);
      unsigned long long q = 0, portid = 0, total = 0, mode = 0, range = 0, queue_dropped = 0,
                         user_dropped = 0;
      if (s >> q >> portid >> total >> mode >> range >> queue_dropped >> user_dropped && q == num_)
        return {queue_dropped, user_dropped};
    }
    return {0, 0};
  }

 private:
  std::uint16_t num_;
  detail::nf_socket nl_;
  std::vector<char> rx_;
  std::uint64_t verdict_errors_ = 0;
};

/// How to enforce.
struct enforce_options {
  std::vector<std::string> interfaces;  ///< whose input and output packets are queued
  std::uint16_t queue = 0;              ///< the NFQUEUE number
  bool fail_open = false;               ///< see the top of this file
  /// The tables' name (queue N > 0: NAME-N), in the ip and ip6 families.
  std::string table = "strata";
  /// Packets the kernel holds for us before it drops them (fail-open: accepts them).
  std::uint32_t queue_length = 4096;
  std::uint32_t copy_range = 0xffff;     ///< bytes of each packet copied to us (the whole IP packet)
  std::uint64_t count = 0;               ///< end after this many packets (0: no bound)
  std::chrono::nanoseconds duration{0};  ///< end after this long (0: no bound)
  engine_config engine{};
  std::size_t policy = 0;
  std::vector<std::string> extra_locals;
  std::vector<port_hint> hints;
  std::function<void(const std::string&)> on_status{};
};

/// The verdict to apply to a queued packet's record: drop what a filter blocked, a suppressed answer
/// included. A block that no filter decided, at a discard layer, is the stack's own discard (nobody
/// listens, traversal.md §7): the kernel makes it itself, and answers (RST, ICMP unreachable) unless
/// a filter suppressed the answer, so the packet is accepted and left to it. Malformed: accepted (the
/// kernel validated the IP header before queueing it; the rest is the stack's to refuse).
constexpr bool drops(const record& r) noexcept {
  return r.blocked() && !r.malformed() && (r.filter >= 0 || r.suppressed || !r.stack_discard);
}

/// What the enforcer did.
struct enforce_stats {
  std::uint64_t packets = 0;
  std::uint64_t accepted = 0;
  std::uint64_t dropped = 0;
  std::uint64_t queue_dropped = 0;  ///< by the kernel: the queue was full (fail-open: accepted instead)
  std::uint64_t user_dropped = 0;   ///< by the kernel: our socket was full
  std::uint64_t verdict_errors = 0;
  int stale_tables = 0;  ///< tables of an earlier run removed at start
};

/// Enforcing mode (see the top of this file). Single-threaded: `run` reads the queue, the host's
/// address changes and the stop request in one poll loop.
template <class Engine>
class enforcer {
 public:
  explicit enforcer(enforce_options o) : o_(std::move(o)), rules_(table_name(o_)) {
    if (o_.interfaces.empty())
      throw error(errc::invalid_argument, "", EINVAL, "--enforce needs an interface (-i)");
    std::vector<std::uint32_t> watched;
    for (const auto& name : o_.interfaces) {
      const unsigned i = name.size() < IFNAMSIZ ? ::if_nametoindex(name.c_str()) : 0;
      if (i == 0) throw error(errc::no_such_interface, name, ENODEV, name + ": no such interface");
      watched.push_back(i);
    }
    wake_ = detail::unique_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wake_) throw detail::system_error("", "eventfd", errno);
    // The queue is bound before any packet is sent to it: fail-closed drops nothing in between. Binding
    // also proves that no other process serves this queue, so a table of this queue's name is stale:
    // a crash in fail-closed mode left it behind, and this is the next start.
    queue_ = std::make_unique<nfqueue>(o_.queue, o_.fail_open, o_.queue_length, o_.copy_range);
    stats_.stale_tables = rules_.remove();
    if (stats_.stale_tables && o_.on_status)
      o_.on_status("removed the nftables table " + rules_.table() + " left by an earlier run");
    monitor_ = std::make_unique<host_monitor>(o_.extra_locals, o_.hints, watched);
    listeners_ = std::make_unique<listener_cache>();
    engine_config ec = o_.engine;
    ec.link = packet::link_type::raw;  // NFQUEUE hands over IP packets, no link header
    engine_ = std::make_unique<Engine>(monitor_->snapshot(), ec);
    engine_->select(o_.policy);
    engine_->use_listener_hook(&listener_cache::hook, listeners_.get());
    rules_.install(o_.interfaces, o_.queue, o_.fail_open);  // last: everything it needs is open
  }
  enforcer(const enforcer&) = delete;
  enforcer& operator=(const enforcer&) = delete;
  ~enforcer() { remove_rules(); }

  /// Removes the rules now (idempotent; any thread). true when they were installed and are removed.
  bool remove_rules() noexcept {
    if (!rules_.installed() || removed_.exchange(true)) return false;
    return rules_.remove() > 0;
  }

  /// Ends `run` soon (any thread; one write to an eventfd).
  void request_stop() noexcept {
    stop_.store(true, std::memory_order_relaxed);
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof one);
  }

  /// Enforces until a bound, a stop request or the removal of an interface; hands every record to
  /// `sink(const output&)` after its verdict was sent. At the end the rules are removed first, then
  /// the packets still queued get their verdicts (none is left to the kernel's flush, which drops).
  template <class Sink>
  void run(Sink&& sink) {
    const std::int64_t deadline = o_.duration.count() > 0 ? detail::monotonic_ns() + o_.duration.count() : 0;
    std::uint64_t gen = monitor_->generation();
    auto on_packet = [&](const nfqueue::packet& p) -> int {
      if (const std::uint64_t g = monitor_->generation(); g != gen) {
        gen = g;
        engine_->set_host(monitor_->snapshot());
      }
      io::frame f;
      f.data = p.data;
      f.wire_length = p.length;
      f.time = io::timestamp(std::chrono::nanoseconds(detail::realtime_ns()));
      f.index = ++stats_.packets;
      f.ifindex = p.ifindex;
      f.outgoing = p.outgoing;
      const record r = engine_->classify(f);
      const int v = drops(r) ? NF_DROP : NF_ACCEPT;
      ++(v == NF_DROP ? stats_.dropped : stats_.accepted);
      pending_.rec = r;
      pending_.frame = f;
      return v;
    };
    for (;;) {
      if (stop_.load(std::memory_order_relaxed)) break;
      if (o_.count && stats_.packets >= o_.count) break;
      const std::int64_t now = detail::monotonic_ns();
      if (deadline && now >= deadline) break;
      int timeout = 100;
      if (deadline) {
        const std::int64_t left = (deadline - now + 999'999) / 1'000'000;
        if (left < timeout) timeout = static_cast<int>(left);
      }
      pollfd fds[3] = {{queue_->fd(), POLLIN, 0}, {monitor_->fd(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
      const int rc = ::poll(fds, 3, timeout);
      if (rc < 0 && errno != EINTR) break;
      if (fds[1].revents & POLLIN) link_events();
      if (fds[0].revents & POLLIN) read_queue(on_packet, sink, o_.count);
    }
    // The rules go first: nothing new is queued. What is still queued is classified and answered.
    remove_rules();
    const std::int64_t until = detail::monotonic_ns() + 50'000'000;
    while (detail::monotonic_ns() < until) {
      pollfd fd{queue_->fd(), POLLIN, 0};
      if (::poll(&fd, 1, 10) <= 0) break;
      read_queue(on_packet, sink, 0);
    }
    const auto [qd, ud] = queue_->kernel_drops();
    stats_.queue_dropped = qd;
    stats_.user_dropped = ud;
    stats_.verdict_errors = queue_->verdict_errors();
  }

  /// Replaces a run-time set of the engine (any thread, like `session::replace_set`).
  template <class Data>
  bool replace_set(std::string_view name, Data&& d) {
    return engine_->replace_set(name, std::forward<Data>(d));
  }
  const Engine& engine() const noexcept { return *engine_; }
  const enforce_stats& stats() const noexcept { return stats_; }
  const std::string& end_reason() const noexcept { return end_reason_; }
  const listener_cache& listeners() const noexcept { return *listeners_; }

 private:
  struct pending {
    record rec{};
    io::frame frame{};
    bool valid = false;
  };

  // One recv; every packet in it gets its verdict, then its record goes to the sink.
  template <class OnPacket, class Sink>
  void read_queue(OnPacket& on_packet, Sink& sink, std::uint64_t count) {
    queue_->receive(
        [&](const nfqueue::packet& p) -> int {
          pending_.valid = !(count && stats_.packets >= count);
          return pending_.valid ? on_packet(p) : NF_ACCEPT;  // past -c: let it through unclassified
        },
        [&] {
          if (pending_.valid) sink(output{pending_.rec, pending_.frame, false, 0});
        });
  }

  void link_events() {
    for (const link_event& ev : monitor_->process()) {
      const std::string name = ev.name.empty() ? "interface " + std::to_string(ev.ifindex) : ev.name;
      if (ev.kind == link_event::removed) {
        if (end_reason_.empty()) end_reason_ = name + ": interface removed; enforcement ends";
        if (o_.on_status) o_.on_status(end_reason_);
        request_stop();
      } else if (o_.on_status) {
        o_.on_status(ev.kind == link_event::down ? name + ": interface went down"
                                                 : name + ": interface is up again");
      }
    }
  }

  // One table per queue ("strata", "strata-3"), so that runs on different queues never remove each
  // other's rules.
  static std::string table_name(const enforce_options& o) {
    return o.queue == 0 ? o.table : o.table + "-" + std::to_string(o.queue);
  }

  enforce_options o_;
  nft_rules rules_;
  std::atomic<bool> removed_{false};
  std::unique_ptr<nfqueue> queue_;
  std::unique_ptr<host_monitor> monitor_;
  std::unique_ptr<listener_cache> listeners_;
  std::unique_ptr<Engine> engine_;
  detail::unique_fd wake_;
  std::atomic<bool> stop_{false};
  enforce_stats stats_{};
  pending pending_{};
  std::string end_reason_;
};

}  // namespace strata::live
