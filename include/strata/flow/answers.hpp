// Who is listening, offline (traversal.md §3): a TCP SYN answered by the host with a RST, or a UDP
// datagram answered with ICMP/ICMPv6 port unreachable, had no listener; otherwise it had one. The
// index is built in one pass over the capture before classification, so the output stays in capture
// order; the lookahead is bounded in frames and time.
#pragma once

#include <strata/host.hpp>
#include <strata/packet/parsed.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

namespace strata::flow {

/// One "nobody listens here" answer the host sent: who asked (remote) and what they asked for (local).
struct answer {
  std::uint64_t hash = 0;   ///< of (family, protocol, local, local port, remote, remote port)
  std::uint64_t frame = 0;  ///< 1-based frame index of the answer
  std::int64_t time_ns = 0;
  bool accepts = false;  ///< a SYN-ACK: someone listened (a later RST closes a connection, it refuses nothing)
};

constexpr std::uint64_t endpoint_pair_hash(family f, std::uint8_t protocol, address local, std::uint16_t local_port,
                                           address remote, std::uint16_t remote_port) {
  std::uint64_t h = 0x9e3779b97f4a7c15ull ^ (static_cast<std::uint64_t>(f) << 8) ^ protocol;
  auto mix = [&](std::uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
  };
  mix(local.hi), mix(local.lo), mix(remote.hi), mix(remote.lo);
  mix((static_cast<std::uint64_t>(local_port) << 16) | remote_port);
  return h;
}

/// Answers the host gave, for the offline listener decision.
class answer_index {
 public:
  /// The lookahead bound: an answer counts when it comes within this many frames and this long.
  std::uint64_t max_frames = 10000;
  std::chrono::nanoseconds max_delay = std::chrono::seconds(5);

  /// Looks at one frame of the pre-pass; keeps it when it is such an answer from the host.
  void add(const packet::parsed& p, const host& h, std::uint64_t frame, std::int64_t time_ns) {
    if (!p.ok() || !h.is_local(p.src, p.fam) || h.is_local(p.dst, p.fam)) return;
    if (p.l4 == packet::l4_kind::tcp && (p.tcp.is_rst() || p.tcp.is_syn_ack())) {
      answers_.push_back(
          {endpoint_pair_hash(p.fam, 6, p.src, p.src_port, p.dst, p.dst_port), frame, time_ns, p.tcp.is_syn_ack()});
    } else if (p.is_icmp_error()) {
      const bool port_unreachable = (p.l4 == packet::l4_kind::icmp && p.icmp.type == 3 && p.icmp.code == 3) ||
                                    (p.l4 == packet::l4_kind::icmpv6 && p.icmp.type == 1 && p.icmp.code == 4);
      const auto& e = p.icmp.embedded;
      if (port_unreachable && e.status != packet::embedded_status::invalid && e.has_ports)
        answers_.push_back({endpoint_pair_hash(e.fam, e.protocol, e.dst, e.dst_port, e.src, e.src_port), frame, time_ns});
    }
    sorted_ = false;
  }

  /// Whether the host answered "nobody here" to the packet at `frame` (time `time_ns`).
  bool answered(family f, std::uint8_t protocol, address local, std::uint16_t local_port, address remote,
                std::uint16_t remote_port, std::uint64_t frame, std::int64_t time_ns) {
    if (!sorted_) {
      std::sort(answers_.begin(), answers_.end(),
                [](const answer& a, const answer& b) { return a.hash != b.hash ? a.hash < b.hash : a.frame < b.frame; });
      sorted_ = true;
    }
    const std::uint64_t h = endpoint_pair_hash(f, protocol, local, local_port, remote, remote_port);
    auto it = std::lower_bound(answers_.begin(), answers_.end(), answer{h, frame + 1, 0},
                               [](const answer& a, const answer& b) { return a.hash != b.hash ? a.hash < b.hash : a.frame < b.frame; });
    // The host's first answer decides: a RST or an ICMP unreachable refuses, a SYN-ACK accepts (a RST
    // after it closes a connection, it refuses nothing).
    return it != answers_.end() && it->hash == h && !it->accepts && it->frame - frame <= max_frames &&
           (it->time_ns <= time_ns ||  // unsigned: the difference of any two times fits, their signed one may not
            (max_delay.count() >= 0 && static_cast<std::uint64_t>(it->time_ns) - static_cast<std::uint64_t>(time_ns) <=
                                           static_cast<std::uint64_t>(max_delay.count())));
  }

  std::size_t size() const { return answers_.size(); }

 private:
  std::vector<answer> answers_;
  bool sorted_ = true;
};

}  // namespace strata::flow
