// Who is listening, offline (traversal.md §3): a TCP SYN answered by the host with a RST, or a UDP
// datagram answered with ICMP/ICMPv6 port unreachable, had no listener; otherwise it had one. The
// index is built in one pass over the capture before classification, so the output stays in capture
// order; the lookahead is bounded in frames and time.
//
// The same pre-pass serves §5 for outbound datagrams: they are classified before fragmentation, at the
// frame holding fragment offset 0, with the whole datagram's steps. When that frame is too short to hold
// the transport header (e.g. a TCP SYN cut after 8 bytes), the datagram is rebuilt from its fragments
// here, and the engine classifies the offset-0 frame with the rebuilt header.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include <strata/flow/reassembly.hpp>
#include <strata/host.hpp>
#include <strata/packet/parsed.hpp>

namespace strata::flow {

/// One "nobody listens here" answer the host sent: who asked (remote) and what they asked for (local).
struct answer {
  std::uint64_t hash = 0;   ///< of (family, protocol, local, local port, remote, remote port)
  std::uint64_t frame = 0;  ///< 1-based frame index of the answer
  std::int64_t time_ns = 0;
  bool accepts =
      false;  ///< a SYN-ACK: someone listened (a later RST closes a connection, it refuses nothing)
};

constexpr std::uint64_t endpoint_pair_hash(family f, std::uint8_t protocol, address local,
                                           std::uint16_t local_port, address remote,
                                           std::uint16_t remote_port) {
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

/// The start of an outbound datagram whose offset-0 fragment does not hold the transport header, rebuilt
/// from its fragments by the pre-pass (traversal.md §5).
struct datagram_head {
  /// Enough for any IP header chain the engine reads and a TCP header with options, or an ICMP error's quote.
  static constexpr std::size_t capacity = 512;
  std::uint64_t frame = 0;   ///< 1-based index of the frame holding fragment offset 0
  std::uint32_t length = 0;  ///< the whole datagram's length (the parse's wire length)
  std::uint32_t kept = 0;    ///< bytes of it in `bytes`
  std::array<std::byte, capacity> bytes{};
  std::span<const std::byte> head() const { return {bytes.data(), kept}; }
};

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
      answers_.push_back({endpoint_pair_hash(p.fam, 6, p.src, p.src_port, p.dst, p.dst_port), frame, time_ns,
                          p.tcp.is_syn_ack()});
    } else if (p.is_icmp_error()) {
      const bool port_unreachable = (p.l4 == packet::l4_kind::icmp && p.icmp.type == 3 && p.icmp.code == 3) ||
                                    (p.l4 == packet::l4_kind::icmpv6 && p.icmp.type == 1 && p.icmp.code == 4);
      const auto& e = p.icmp.embedded;
      if (port_unreachable && e.status != packet::embedded_status::invalid && e.has_ports)
        answers_.push_back(
            {endpoint_pair_hash(e.fam, e.protocol, e.dst, e.dst_port, e.src, e.src_port), frame, time_ns});
    }
    sorted_ = false;
  }

  /// As above, and keeps the start of every outbound datagram whose offset-0 fragment cuts the transport
  /// header (`frame` is the frame `p` was parsed from).
  void add(const packet::parsed& p, std::span<const std::byte> frame, const host& h,
           std::uint64_t frame_index, std::int64_t time_ns) {
    add(p, h, frame_index, time_ns);
    if (!p.ok() || !p.frag.is_fragment() || !h.is_local(p.src, p.fam)) return;
    if (!frags_) {  // the datagrams in reassembly come from the host only: it gets the whole pool
      reassembly_limits l;
      l.per_host_bytes = l.memory_bytes;
      l.per_host_datagrams = l.max_datagrams;
      frags_ = std::make_unique<reassembler>(l);
    }
    const std::uint64_t key = fragment_key(p);
    if (!p.frag.is_later() && p.l4 == packet::l4_kind::fragment) {
      if (cut_.size() >= max_cut) cut_.erase(cut_.begin());  // bounded: the oldest never completed
      cut_.push_back({key, frame_index});
    }
    const reassembly_result r = frags_->offer(p, frame, time_ns);
    if (r.status != reassembly_status::completed) return;
    const auto c = std::find_if(cut_.begin(), cut_.end(), [&](const cut& x) { return x.key == key; });
    if (c == cut_.end()) return;
    if (frame_index - c->frame <= max_frames) {  // the same lookahead bound as the answers'
      datagram_head& d = heads_.emplace_back();
      d.frame = c->frame;
      d.length = static_cast<std::uint32_t>(r.datagram.size());
      d.kept = static_cast<std::uint32_t>(std::min(r.datagram.size(), datagram_head::capacity));
      std::copy_n(r.datagram.begin(), d.kept, d.bytes.begin());
      heads_sorted_ = heads_sorted_ && (heads_.size() < 2 || heads_[heads_.size() - 2].frame < d.frame);
    }
    cut_.erase(c);
  }

  /// The rebuilt start of the outbound datagram whose offset-0 fragment is frame `frame`, if the pre-pass
  /// saw it complete (nullptr otherwise).
  const datagram_head* outbound_datagram(std::uint64_t frame) {
    if (heads_.empty()) return nullptr;
    if (!heads_sorted_) {
      std::sort(heads_.begin(), heads_.end(),
                [](const datagram_head& a, const datagram_head& b) { return a.frame < b.frame; });
      heads_sorted_ = true;
    }
    auto it = std::lower_bound(heads_.begin(), heads_.end(), frame,
                               [](const datagram_head& a, std::uint64_t f) { return a.frame < f; });
    return it != heads_.end() && it->frame == frame ? &*it : nullptr;
  }

  /// The key both the pre-pass and the engine give a fragmented datagram (family, protocol, addresses, id).
  static std::uint64_t fragment_key(const packet::parsed& p) {
    return endpoint_pair_hash(p.fam, p.protocol, p.src, 0, p.dst, 0) ^ p.frag.id;
  }

  /// Whether the host answered "nobody here" to the packet at `frame` (time `time_ns`).
  bool answered(family f, std::uint8_t protocol, address local, std::uint16_t local_port, address remote,
                std::uint16_t remote_port, std::uint64_t frame, std::int64_t time_ns) {
    if (!sorted_) {
      std::sort(answers_.begin(), answers_.end(), [](const answer& a, const answer& b) {
        return a.hash != b.hash ? a.hash < b.hash : a.frame < b.frame;
      });
      sorted_ = true;
    }
    const std::uint64_t h = endpoint_pair_hash(f, protocol, local, local_port, remote, remote_port);
    auto it = std::lower_bound(answers_.begin(), answers_.end(), answer{h, frame + 1, 0},
                               [](const answer& a, const answer& b) {
                                 return a.hash != b.hash ? a.hash < b.hash : a.frame < b.frame;
                               });
    // The host's first answer decides: a RST or an ICMP unreachable refuses, a SYN-ACK accepts (a RST
    // after it closes a connection, it refuses nothing).
    return it != answers_.end() && it->hash == h && !it->accepts && it->frame - frame <= max_frames &&
           (it->time_ns <=
                time_ns ||  // unsigned: the difference of any two times fits, their signed one may not
            (max_delay.count() >= 0 &&
             static_cast<std::uint64_t>(it->time_ns) - static_cast<std::uint64_t>(time_ns) <=
                 static_cast<std::uint64_t>(max_delay.count())));
  }

  std::size_t size() const { return answers_.size(); }

 private:
  static constexpr std::size_t max_cut = 1024;
  struct cut {
    std::uint64_t key = 0;
    std::uint64_t frame = 0;
  };
  std::vector<answer> answers_;
  bool sorted_ = true;
  std::shared_ptr<reassembler> frags_;  // shared: an index may be copied after its pre-pass
  std::vector<cut> cut_;                // offset-0 fragments without a transport header, awaiting the rest
  std::vector<datagram_head> heads_;
  bool heads_sorted_ = true;
};

}  // namespace strata::flow
