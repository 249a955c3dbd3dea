// Live capture on Linux: AF_PACKET sockets with a TPACKET_V3 memory-mapped ring, one per interface,
// read as an input range of `io::frame`s, so everything that takes a capture file takes a live source:
//
//   strata::live::capture_options o;
//   o.interfaces = {"eth0"};
//   o.duration = std::chrono::seconds(10);
//   strata::live::source src(o);                       // throws live::error (no such interface, EPERM, ...)
//   for (const auto& r : src | strata::views::classify(engine)) ...
//   src.stats();                                       // kernel drops (PACKET_STATISTICS)
//
// Both directions are captured; `frame::outgoing` marks what the host sent (PACKET_OUTGOING) and
// `frame::ifindex` names the interface. The range ends at the count, the duration, a stop request
// (`request_stop()`, a std::stop_token; safe from another thread) or when every interface was removed;
// `poll()` always has a timeout, so it never hangs. Reading never throws and never allocates.
//
// Fan-out: several sources opened with the same `fanout_group` share each interface's packets
// (PACKET_FANOUT_HASH: the kernel's symmetric flow hash, so both directions of a flow go to the same
// member). Linux only; needs CAP_NET_RAW to open (not to read). CMake target strata::live.
#pragma once

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <strata/io/frame.hpp>
#include <strata/packet/link.hpp>

namespace strata::live {

/// What went wrong while opening a live source.
enum class errc : std::uint8_t {
  no_such_interface,  ///< the name names no interface (in this network namespace)
  permission_denied,  ///< EPERM/EACCES: needs CAP_NET_RAW (run as root, or setcap cap_net_raw+ep)
  unsupported,        ///< e.g. interfaces of different link types in one source
  invalid_argument,   ///< ring sizes the kernel refuses, an empty interface list
  system,             ///< any other system error (errno kept)
};

/// Thrown when a live source (or the host monitor) cannot be opened. `what()` is one line for users:
/// "veth9: no such interface", "eth0: cannot open a packet socket: Operation not permitted (needs
/// CAP_NET_RAW: run as root or give the program cap_net_raw)".
class error : public std::runtime_error {
 public:
  error(errc code, std::string interface, int sys_errno, const std::string& message)
      : std::runtime_error(message), code_(code), interface_(std::move(interface)), errno_(sys_errno) {}
  errc code() const noexcept { return code_; }
  const std::string& interface() const noexcept { return interface_; }
  int sys_errno() const noexcept { return errno_; }

 private:
  errc code_;
  std::string interface_;
  int errno_;
};

namespace detail {

inline error system_error(std::string iface, const char* what, int e) {
  const bool perm = e == EPERM || e == EACCES;
  std::string msg = (iface.empty() ? std::string() : iface + ": ") + what + ": " + std::strerror(e);
  if (perm) msg += " (needs CAP_NET_RAW: run as root, or give the program cap_net_raw)";
  return error(perm ? errc::permission_denied : errc::system, std::move(iface), e, msg);
}

/// A file descriptor closed by its destructor.
class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~unique_fd() { reset(); }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

inline std::int64_t realtime_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
inline std::int64_t monotonic_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace detail

/// The TPACKET_V3 ring of one socket: `block_count` blocks of `block_size` bytes (a power of two, a
/// multiple of the page size). A block is handed to user space when full or after `block_timeout`.
struct ring_config {
  std::uint32_t block_size = 1u << 20;  ///< 1 MiB
  /// 8 MiB per socket (per interface and worker): ~5,000 full-size frames, 58,000 small ones (~75 ms at
  /// 770,000 packets/s). Larger rings cost CPU on every frame, as the reader walks all of it (bench/live,
  /// 60-byte frames: 16 to 64 MiB ~30% more CPU per packet than 8 MiB, tcpdump -B alike; likely the data
  /// TLB, whose reach is 8 MiB here). Raise it to ride out longer stalls at high rates: strata-classify
  /// does when it writes records (default_ring_blocks).
  std::uint32_t block_count = 8;
  std::uint32_t frame_size = 2048;              ///< TPACKET_V3 sizing hint (tp_frame_size)
  std::chrono::milliseconds block_timeout{10};  ///< retire a partly filled block after this
};

/// Ring blocks (of 1 MiB) per socket for a reader that only classifies (`records` false: 8, the
/// ring_config default) or that also hands a record per frame to an output thread (32). With records
/// the output thread competes with the reader for the CPU and each frame costs 200-350 ns anyway, so
/// 32 MiB (~300 ms of 60-byte frames at 770,000 packets/s) costs no measurable CPU there (bench/live,
/// JSON Lines, 4 rounds: 331 ns per packet with 8 MiB, 339 with 32) and rides out four times longer
/// stalls; a run with 8 MiB once dropped 6,203 of 1,000,000 frames. Without records it would cost ~30%.
constexpr std::uint32_t default_ring_blocks(bool records) noexcept {
  return records ? 32 : ring_config{}.block_count;
}

/// How to open a live source.
struct capture_options {
  std::vector<std::string> interfaces;  ///< by name; one socket (and ring) each
  ring_config ring{};
  bool promiscuous = false;              ///< PACKET_MR_PROMISC on each interface while open
  std::uint32_t snaplen = 262144;        ///< bytes kept per frame (also bounded by the block size)
  std::uint64_t count = 0;               ///< end after this many frames (0: no bound)
  std::chrono::nanoseconds duration{0};  ///< end this long after opening (0: no bound)
  std::stop_token stop{};                ///< end when stop is requested
  /// Longest single wait in poll() (100 ms while an interface is down, to see it come back up). Stops
  /// and ready blocks wake the reader at once: the timeout only bounds the wait, and each wake-up of an
  /// idle reader costs tens of microseconds on a virtual machine.
  std::chrono::milliseconds poll_timeout{1000};
  std::uint16_t fanout_group = 0;                  ///< 0: none; else interface i joins group fanout_group + i
  std::uint16_t fanout_mode = PACKET_FANOUT_HASH;  ///< PACKET_FANOUT_HASH: the kernel's symmetric flow hash
};

/// Kernel counters of one interface's socket (PACKET_STATISTICS, accumulated: the kernel resets them on
/// read).
struct kernel_stats {
  std::uint64_t packets = 0;   ///< packets the socket's filter accepted (received plus dropped)
  std::uint64_t drops = 0;     ///< tp_drops: dropped because the ring was full
  std::uint64_t freeze_q = 0;  ///< tp_freeze_q_cnt: times the queue froze because no block was free
  kernel_stats& operator+=(const kernel_stats& o) {
    packets += o.packets;
    drops += o.drops;
    freeze_q += o.freeze_q;
    return *this;
  }
};

/// The link type of an interface as `parse` needs it (ARPHRD_ETHER and loopback: Ethernet; no
/// link header, e.g. tun or WireGuard: raw IP). Empty for link types strata does not parse.
inline std::optional<packet::link_type> link_type_of_arphrd(unsigned short arphrd) {
  switch (arphrd) {
    case ARPHRD_ETHER:
    case ARPHRD_LOOPBACK:
      return packet::link_type::ethernet;
    case ARPHRD_NONE:
    case ARPHRD_RAWIP:
      return packet::link_type::raw;
    default:
      return std::nullopt;
  }
}

/// One AF_PACKET socket bound to one interface, with its mapped TPACKET_V3 ring.
class packet_socket {
 public:
  /// A packet as the ring holds it (valid until the socket's block is released by the next read).
  struct ring_packet {
    std::span<const std::byte> data;
    std::uint32_t wire_length = 0;
    io::timestamp time{};
    bool outgoing = false;
  };

  /// Opens a socket on interface `name`. Throws `error`. The socket receives nothing until `start()`.
  packet_socket(const std::string& name, const ring_config& ring, bool promiscuous, std::uint32_t snaplen)
      : name_(name), ring_(ring) {
    if (name.empty() || name.size() >= IFNAMSIZ)
      throw error(errc::no_such_interface, name, ENODEV,
                  (name.empty() ? std::string("\"\"") : name) + ": no such interface");
    // Protocol 0: nothing is queued before the ring exists and the socket is bound (start()).
    fd_ = detail::unique_fd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
    if (!fd_) {
      const int e = errno;
      // Without CAP_NET_RAW, say so even when the interface also does not exist.
      throw detail::system_error(name, "cannot open a packet socket", e);
    }
    ifreq ifr{};
    std::memcpy(ifr.ifr_name, name.data(), name.size());
    if (::ioctl(fd_.get(), SIOCGIFINDEX, &ifr) < 0) {
      const int e = errno;
      if (e == ENODEV) throw error(errc::no_such_interface, name, e, name + ": no such interface");
      throw detail::system_error(name, "cannot look up the interface", e);
    }
    ifindex_ = static_cast<std::uint32_t>(ifr.ifr_ifindex);
    if (::ioctl(fd_.get(), SIOCGIFHWADDR, &ifr) < 0) throw detail::system_error(name, "SIOCGIFHWADDR", errno);
    const auto lt = link_type_of_arphrd(ifr.ifr_hwaddr.sa_family);
    if (!lt)
      throw error(errc::unsupported, name, 0,
                  name + ": link type " + std::to_string(ifr.ifr_hwaddr.sa_family) + " is not supported");
    link_ = *lt;

    int version = TPACKET_V3;
    if (::setsockopt(fd_.get(), SOL_PACKET, PACKET_VERSION, &version, sizeof version) < 0)
      throw detail::system_error(name, "PACKET_VERSION (TPACKET_V3)", errno);
    if (snaplen < 262144) {  // a one-instruction filter keeps the first `snaplen` bytes of each frame
      sock_filter insn{static_cast<std::uint16_t>(BPF_RET | BPF_K), 0, 0, snaplen};
      sock_fprog prog{1, &insn};
      if (::setsockopt(fd_.get(), SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0)
        throw detail::system_error(name, "SO_ATTACH_FILTER (snap length)", errno);
    }
    const long page = ::sysconf(_SC_PAGESIZE);
    if (ring.block_size == 0 || ring.block_count == 0 || (ring.block_size & (ring.block_size - 1)) != 0 ||
        ring.block_size % static_cast<std::uint32_t>(page) != 0 || ring.frame_size < TPACKET3_HDRLEN ||
        ring.block_size % ring.frame_size != 0)
      throw error(errc::invalid_argument, name, EINVAL,
                  name + ": ring block size must be a power of two and a multiple of the page size (" +
                      std::to_string(page) + "), divisible by the frame size");
    tpacket_req3 req{};
    req.tp_block_size = ring.block_size;
    req.tp_block_nr = ring.block_count;
    req.tp_frame_size = ring.frame_size;
    req.tp_frame_nr = ring.block_size / ring.frame_size * ring.block_count;
    req.tp_retire_blk_tov =
        static_cast<unsigned>(ring.block_timeout.count() > 0 ? ring.block_timeout.count() : 1);
    req.tp_feature_req_word = TP_FT_REQ_FILL_RXHASH;
    if (::setsockopt(fd_.get(), SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0) {
      const int e = errno;
      if (e == EINVAL || e == ENOMEM)
        throw error(errc::invalid_argument, name, e,
                    name + ": the kernel refused a ring of " + std::to_string(ring.block_count) + " x " +
                        std::to_string(ring.block_size) + " bytes: " + std::strerror(e));
      throw detail::system_error(name, "PACKET_RX_RING", e);
    }
    map_size_ = static_cast<std::size_t>(ring.block_size) * ring.block_count;
    void* m = ::mmap(nullptr, map_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
    if (m == MAP_FAILED) throw detail::system_error(name, "mmap of the ring", errno);
    map_ = static_cast<std::byte*>(m);
    if (promiscuous) {
      packet_mreq mr{};
      mr.mr_ifindex = static_cast<int>(ifindex_);
      mr.mr_type = PACKET_MR_PROMISC;
      if (::setsockopt(fd_.get(), SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) < 0)
        throw detail::system_error(name, "promiscuous mode", errno);
    }
  }

  packet_socket(packet_socket&& o) noexcept { swap(o); }
  packet_socket& operator=(packet_socket&& o) noexcept {
    packet_socket t(std::move(o));
    swap(t);
    return *this;
  }
  packet_socket(const packet_socket&) = delete;
  packet_socket& operator=(const packet_socket&) = delete;
  ~packet_socket() {
    if (map_) ::munmap(map_, map_size_);
  }

  /// Binds to the interface (every protocol): packets start arriving in the ring.
  void start() {
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = static_cast<int>(ifindex_);
    if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&sll), sizeof sll) < 0) {
      const int e = errno;
      if (e == ENODEV || e == ENXIO)
        throw error(errc::no_such_interface, name_, e, name_ + ": no such interface");
      throw detail::system_error(name_, "bind", e);
    }
  }
  /// Joins fan-out group `group` (after start()): the kernel spreads the interface's packets over the
  /// group's sockets, in the order they joined.
  void join_fanout(std::uint16_t group, std::uint16_t mode) {
    const int arg = static_cast<int>(group) | (static_cast<int>(mode) << 16);
    if (::setsockopt(fd_.get(), SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) < 0)
      throw detail::system_error(name_, "PACKET_FANOUT", errno);
  }

  /// The next packet of the ring, if one is ready (releases the block of the previous one when done).
  bool next(ring_packet& out) noexcept {
    io::frame f;
    if (!next(f)) return false;
    out.data = f.data;
    out.wire_length = f.wire_length;
    out.time = f.time;
    out.outgoing = f.outgoing;
    return true;
  }
  /// The same, written straight into a frame's data, wire_length, time and outgoing (its other fields
  /// are left alone): what `source` reads. Copied through a ring_packet, the span's two 8-byte stores
  /// were read back as one 16-byte word, a store-forwarding stall on every frame.
  bool next(io::frame& out) noexcept {
    for (int tries = 0; tries < 2; ++tries) {
      if (remaining_ == 0) {
        if (held_) release();
        auto* bd = block(current_);
        if ((__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) == 0)
          return false;
        held_ = true;
        remaining_ = bd->hdr.bh1.num_pkts;
        pkt_ = reinterpret_cast<const tpacket3_hdr*>(reinterpret_cast<const std::byte*>(bd) +
                                                     bd->hdr.bh1.offset_to_first_pkt);
        if (remaining_ == 0) continue;  // an empty block (timeout): hand it back, look at the next
      }
      const tpacket3_hdr* h = pkt_;
      --remaining_;
      if (remaining_ > 0) {
        pkt_ =
            reinterpret_cast<const tpacket3_hdr*>(reinterpret_cast<const std::byte*>(h) + h->tp_next_offset);
        // The kernel wrote the next frame from another CPU: its header and first bytes are cache misses.
        // Fetched now, they arrive while this frame is classified (its headers sit in the first 192 bytes).
        const auto* n = reinterpret_cast<const char*>(pkt_);
        __builtin_prefetch(n);
        __builtin_prefetch(n + 64);
        __builtin_prefetch(n + 128);
        __builtin_prefetch(n + 512);
        __builtin_prefetch(n + 576);
      }
      const auto* base = reinterpret_cast<const std::byte*>(h);
      const auto* sll = reinterpret_cast<const sockaddr_ll*>(base + TPACKET_ALIGN(sizeof(tpacket3_hdr)));
      out.data = std::span<const std::byte>(base + h->tp_mac, h->tp_snaplen);
      out.wire_length = h->tp_len;
      out.time = io::timestamp(std::chrono::seconds(h->tp_sec) + std::chrono::nanoseconds(h->tp_nsec));
      out.outgoing = sll->sll_pkttype == PACKET_OUTGOING;
      if ((h->tp_status & TP_STATUS_VLAN_VALID) && link_ == packet::link_type::ethernet &&
          h->tp_snaplen >= 12) {
        out.data = reinsert_vlan(out.data, h);
        out.wire_length += 4;
      }
      return true;
    }
    return false;
  }

  /// Adds the kernel's counters since the last read to the running totals and returns them.
  const kernel_stats& stats() noexcept {
    tpacket_stats_v3 st{};
    socklen_t len = sizeof st;
    if (::getsockopt(fd_.get(), SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) {
      totals_.packets += st.tp_packets;
      totals_.drops += st.tp_drops;
      totals_.freeze_q += st.tp_freeze_q_cnt;
    }
    return totals_;
  }

  /// The pending socket error (ENETDOWN when the interface went down), cleared by reading it.
  int take_error() noexcept {
    int e = 0;
    socklen_t len = sizeof e;
    if (::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &e, &len) < 0) return errno;
    return e;
  }
  /// Whether the interface still exists with the same index (asked in the socket's network namespace).
  bool interface_exists() const noexcept {
    ifreq ifr{};
    std::memcpy(ifr.ifr_name, name_.data(), name_.size());
    return ::ioctl(fd_.get(), SIOCGIFINDEX, &ifr) == 0 &&
           static_cast<std::uint32_t>(ifr.ifr_ifindex) == ifindex_;
  }
  /// Whether the interface is up (IFF_UP).
  bool interface_up() const noexcept {
    ifreq ifr{};
    std::memcpy(ifr.ifr_name, name_.data(), name_.size());
    return ::ioctl(fd_.get(), SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP) != 0;
  }

  int fd() const noexcept { return fd_.get(); }
  const std::string& name() const noexcept { return name_; }
  std::uint32_t ifindex() const noexcept { return ifindex_; }
  packet::link_type link_type() const noexcept { return link_; }

 private:
  tpacket_block_desc* block(std::uint32_t i) const noexcept {
    return reinterpret_cast<tpacket_block_desc*>(map_ + static_cast<std::size_t>(i) * ring_.block_size);
  }
  void release() noexcept {
    __atomic_store_n(&block(current_)->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
    held_ = false;
    current_ = (current_ + 1) % ring_.block_count;
  }
  // The kernel strips an offloaded 802.1Q tag into the header; put it back where the wire had it, as
  // libpcap does, so that live frames and captured files have the same bytes.
  std::span<const std::byte> reinsert_vlan(std::span<const std::byte> d, const tpacket3_hdr* h) {
    scratch_.resize(d.size() + 4);
    std::memcpy(scratch_.data(), d.data(), 12);
    const std::uint16_t tpid = (h->tp_status & TP_STATUS_VLAN_TPID_VALID) ? h->hv1.tp_vlan_tpid : ETH_P_8021Q;
    const std::uint16_t tci = static_cast<std::uint16_t>(h->hv1.tp_vlan_tci);
    scratch_[12] = static_cast<std::byte>(tpid >> 8);
    scratch_[13] = static_cast<std::byte>(tpid & 0xff);
    scratch_[14] = static_cast<std::byte>(tci >> 8);
    scratch_[15] = static_cast<std::byte>(tci & 0xff);
    std::memcpy(scratch_.data() + 16, d.data() + 12, d.size() - 12);
    return scratch_;
  }

  void swap(packet_socket& o) noexcept {
    std::swap(fd_, o.fd_);
    std::swap(name_, o.name_);
    std::swap(ring_, o.ring_);
    std::swap(map_, o.map_);
    std::swap(map_size_, o.map_size_);
    std::swap(ifindex_, o.ifindex_);
    std::swap(link_, o.link_);
    std::swap(current_, o.current_);
    std::swap(remaining_, o.remaining_);
    std::swap(held_, o.held_);
    std::swap(pkt_, o.pkt_);
    std::swap(totals_, o.totals_);
    std::swap(scratch_, o.scratch_);
  }

  detail::unique_fd fd_;
  std::string name_;
  ring_config ring_{};
  std::byte* map_ = nullptr;
  std::size_t map_size_ = 0;
  std::uint32_t ifindex_ = 0;
  packet::link_type link_ = packet::link_type::ethernet;
  std::uint32_t current_ = 0;
  std::uint32_t remaining_ = 0;
  bool held_ = false;
  const tpacket3_hdr* pkt_ = nullptr;
  kernel_stats totals_{};
  std::vector<std::byte> scratch_;
};

/// Per-interface state changes a source noticed (reported through `source::take_notices()`).
struct interface_notice {
  std::string interface;
  enum kind_t : std::uint8_t { went_down, came_up, removed } kind = went_down;
};

/// A live capture: the interfaces' rings read as one input range of `io::frame`s (see the top of this file).
/// Single pass; a frame's bytes stay valid until the next increment. Not copyable; moving invalidates
/// iterators.
class source {
 public:
  class iterator;

  explicit source(const capture_options& o) : options_(o) {
    if (o.interfaces.empty()) throw error(errc::invalid_argument, "", EINVAL, "no interface to capture on");
    for (const auto& name : o.interfaces) {
      sockets_.emplace_back(name, o.ring, o.promiscuous, o.snaplen);
      if (sockets_.back().link_type() != sockets_.front().link_type())
        throw error(
            errc::unsupported, name, 0,
            name + ": its link type differs from " + sockets_.front().name() + "'s; capture them separately");
    }
    wake_ = detail::unique_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wake_) throw detail::system_error("", "eventfd", errno);
    for (std::size_t i = 0; i < sockets_.size(); ++i) {
      sockets_[i].start();
      if (o.fanout_group != 0)
        sockets_[i].join_fanout(static_cast<std::uint16_t>(o.fanout_group + i), o.fanout_mode);
    }
    up_.assign(sockets_.size(), true);
    alive_.assign(sockets_.size(), true);
    for (std::size_t i = 0; i < sockets_.size(); ++i) up_[i] = sockets_[i].interface_up();
    if (o.duration.count() > 0) deadline_ = detail::monotonic_ns() + o.duration.count();
    if (o.stop.stop_possible()) stop_callback_.emplace(o.stop, waker{this});
  }

  source(const source&) = delete;
  source& operator=(const source&) = delete;

  /// The link type of the frames (the same for every interface of the source).
  packet::link_type link_type() const noexcept { return sockets_.front().link_type(); }
  const std::vector<packet_socket>& sockets() const noexcept { return sockets_; }

  inline iterator begin() noexcept;
  std::default_sentinel_t end() const noexcept { return {}; }

  /// Ends the range soon (from any thread; async-signal-safe: one write to an eventfd).
  void request_stop() noexcept {
    stop_.store(true, std::memory_order_relaxed);
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof one);
  }

  /// Reads the next frame; false when the range has ended (bound reached, stop, every interface removed).
  bool next() noexcept {
    started_ = true;
    if (done_) return false;
    if (options_.count != 0 && count_ >= options_.count) return finish();
    for (;;) {
      const std::size_t count = sockets_.size();
      for (std::size_t n = 0, i = cursor_; n < count; ++n, i = i + 1 == count ? 0 : i + 1) {  // no division
        if (!alive_[i] || !sockets_[i].next(current_)) continue;
        cursor_ = i;  // stay on this ring until its block is drained
        current_.index = ++count_;
        current_.ifindex = sockets_[i].ifindex();
        current_.departing_copy = false;
        return true;
      }
      const std::int64_t now = detail::monotonic_ns();
      if (draining_until_ == 0 &&
          (stop_.load(std::memory_order_relaxed) || (deadline_ != 0 && now >= deadline_))) {
        // Ending: what the kernel captured before now sits in blocks it retires within one block
        // timeout; deliver those, then end.
        draining_until_ = now + 2 * std::chrono::nanoseconds(options_.ring.block_timeout).count() + 1'000'000;
      }
      if (draining_until_ != 0 && now >= draining_until_) return finish();
      int timeout = static_cast<int>(options_.poll_timeout.count());
      for (std::size_t i = 0; i < sockets_.size(); ++i)
        if (alive_[i] && !up_[i] && timeout > 100) timeout = 100;  // down: look for it coming back up
      const std::int64_t until = draining_until_ != 0 ? draining_until_ : deadline_;
      if (until != 0) {
        const std::int64_t left_ms = (until - now + 999'999) / 1'000'000;
        if (left_ms < timeout) timeout = static_cast<int>(left_ms);
      }
      if (idle_) idle_(idle_context_);
      if (!wait(timeout)) return finish();
    }
  }

  /// Called on the reading thread each time the rings are drained, before the source waits for the
  /// kernel: a consumer that hands frames to another thread wakes it here, once per burst.
  void on_idle(void (*fn)(void*), void* context) noexcept {
    idle_ = fn;
    idle_context_ = context;
  }

  const io::frame& current() const noexcept { return current_; }
  bool done() const noexcept { return done_; }
  std::uint64_t frames_read() const noexcept { return count_; }
  /// Why the range ended: "" (not yet, or a bound/stop), or "eth0: interface removed; capture ends".
  const std::string& end_reason() const noexcept { return end_reason_; }

  /// The kernel's counters per interface (in `capture_options::interfaces` order), accumulated.
  std::vector<kernel_stats> stats() {
    std::vector<kernel_stats> v;
    for (auto& s : sockets_) v.push_back(s.stats());
    return v;
  }
  /// Interface state changes seen since the last call (down, up again, removed).
  std::vector<interface_notice> take_notices() { return std::exchange(notices_, {}); }

 private:
  struct waker {
    source* s;
    void operator()() const noexcept { s->request_stop(); }
  };

  bool finish() noexcept {
    done_ = true;
    current_ = io::frame{};
    return false;
  }

  // Waits for a ready block, the stop eventfd or the timeout. false: nothing left to wait for.
  bool wait(int timeout_ms) noexcept {
    pollfd fds[17];
    const std::size_t n = sockets_.size() < 16 ? sockets_.size() : 16;
    std::size_t live = 0;
    for (std::size_t i = 0; i < n; ++i) {
      fds[i] = {sockets_[i].fd(), static_cast<short>(alive_[i] ? POLLIN : 0), 0};
      live += alive_[i] ? 1 : 0;
    }
    if (live == 0) {
      for (const auto& sk : sockets_) end_reason_ += (end_reason_.empty() ? "" : ", ") + sk.name();
      end_reason_ +=
          sockets_.size() > 1 ? ": interfaces removed; capture ends" : ": interface removed; capture ends";
      return false;
    }
    fds[n] = {wake_.get(), POLLIN, 0};
    // Blocks retire after block_timeout; a ring whose interface is down has nothing to say: poll()
    // still returns at the timeout, so a stop or the deadline is always seen.
    const int rc = ::poll(fds, static_cast<nfds_t>(n + 1), timeout_ms);
    if (rc < 0) return errno == EINTR;
    for (std::size_t i = 0; i < n; ++i) {
      if (!(fds[i].revents & (POLLERR | POLLHUP | POLLNVAL))) {
        if (!up_[i] && (fds[i].revents & POLLIN)) note(i, interface_notice::came_up);
        continue;
      }
      const int e = sockets_[i].take_error();
      if (e == ENETDOWN || (fds[i].revents & (POLLHUP | POLLNVAL))) {
        if (!sockets_[i].interface_exists()) {
          alive_[i] = false;
          note(i, interface_notice::removed);
        } else if (up_[i]) {
          note(i, interface_notice::went_down);
        }
      }
    }
    // An interface that came back up re-joins its socket by itself (the kernel re-registers it).
    if (rc == 0)
      for (std::size_t i = 0; i < n; ++i)
        if (alive_[i] && !up_[i] && sockets_[i].interface_up()) note(i, interface_notice::came_up);
    if (fds[n].revents & POLLIN) {
      std::uint64_t v = 0;
      [[maybe_unused]] auto r = ::read(wake_.get(), &v, sizeof v);
    }
    return true;
  }

  void note(std::size_t i, interface_notice::kind_t k) {
    if (k == interface_notice::went_down) up_[i] = false;
    if (k == interface_notice::came_up) up_[i] = true;
    try {
      if (notices_.size() >= 64) notices_.erase(notices_.begin());  // bounded: nobody may be reading them
      notices_.push_back({sockets_[i].name(), k});
    } catch (...) {
    }
  }

  capture_options options_;
  std::vector<packet_socket> sockets_;
  std::vector<bool> up_, alive_;
  detail::unique_fd wake_;
  void (*idle_)(void*) = nullptr;
  void* idle_context_ = nullptr;
  std::atomic<bool> stop_{false};
  std::optional<std::stop_callback<waker>> stop_callback_;
  std::int64_t deadline_ = 0;
  std::int64_t draining_until_ = 0;  // ending: deliver the blocks the kernel retires until then
  std::size_t cursor_ = 0;
  io::frame current_{};
  std::uint64_t count_ = 0;
  bool started_ = false;
  bool done_ = false;
  std::string end_reason_;
  std::vector<interface_notice> notices_;
};

/// The input iterator of `source` (compared with std::default_sentinel_t); like `io::pcap_reader`'s,
/// default-constructible and copyable as C++20 and range-v3 input iterators must be.
class source::iterator {
 public:
  using iterator_concept = std::input_iterator_tag;
  using iterator_category = std::input_iterator_tag;
  using value_type = io::frame;
  using difference_type = std::ptrdiff_t;
  using reference = const io::frame&;
  using pointer = const io::frame*;

  iterator() = default;
  explicit iterator(source* s) noexcept : s_(s) {}
  reference operator*() const noexcept { return s_->current(); }
  pointer operator->() const noexcept { return &s_->current(); }
  iterator& operator++() noexcept {
    s_->next();
    return *this;
  }
  void operator++(int) noexcept { s_->next(); }
  friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
    return it.s_ == nullptr || it.s_->done();
  }

 private:
  source* s_ = nullptr;
};

inline source::iterator source::begin() noexcept {
  if (!started_) next();
  return iterator(this);
}

}  // namespace strata::live
