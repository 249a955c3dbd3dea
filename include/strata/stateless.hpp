// strata::stateless<P>: a policy's compiled pipeline as a stateless packet classifier (no flows, no
// reassembly, no records): parse, direction, one pipeline call per frame. The question it answers is the
// one a BPF or ACL rule set answers: an IPv4 packet that is not a fragment, to or from the observed host,
// through its direction's IP-packet and transport layers (the path of an established TCP segment,
// traversal.md §7). Other frames (not IP, IPv6, fragments, forwarded, malformed) are not classified.
//
//   std::vector<strata::stateless_verdict> out(frames.size());
//   strata::stateless<my_policy>::classify(frames, strata::packet::link_type::ethernet, host, out);
//
// The batch form asks for the headers of the frames a few places ahead while it classifies the current
// one, so that the cache misses of frames spread over a large buffer overlap instead of coming one after
// the other. Per-packet path: no heap allocation, no virtual calls, no exceptions.
#pragma once

#include <cstddef>
#include <cstring>
#include <limits>
#include <span>

#include <strata/detail/bytes.hpp>
#include <strata/host.hpp>
#include <strata/io/frame.hpp>
#include <strata/packet/parse.hpp>
#include <strata/pipeline.hpp>

namespace strata {

/// One frame's answer. `result` first and 8-byte aligned: the pipeline returns it in two registers, which
/// are then stored as they are (at offset 2 of a 14-byte record it went through the stack, read back in
/// unaligned words over narrower stores: a store-forwarding stall on every frame).
struct alignas(8) stateless_verdict {
  path_result result{};  ///< the pipeline's answer (verdict, deciding filter, layer) when `applies`
  bool applies = false;  ///< the frame is an IPv4 non-fragment to or from the host: `result` holds a value
};

template <auto const& P>
struct stateless {
  /// The path and the values of an applicable frame; false for the others. Only the fields the frame
  /// gives are written into `v` (addresses, protocol, ports or ICMP type/code): the rest of `v` is the
  /// caller's, so one `incoming_values` can serve many frames without being cleared for each.
  static bool key(const packet::parsed& p, const host& h, path_key& k, incoming_values& v) noexcept {
    if (!p.ok() || p.fam != family::v4 || p.frag.is_fragment()) return false;
    if (p.l4 == packet::l4_kind::tcp || p.l4 == packet::l4_kind::udp)
      return fill(h, p.src, p.dst, p.protocol, p.src_port, p.dst_port, true, k, v);
    if (p.l4 == packet::l4_kind::icmp)  // WFP: ICMP type and code travel in the port slots
      return fill(h, p.src, p.dst, p.protocol, p.icmp.type, p.icmp.code, false, k, v);
    return fill(h, p.src, p.dst, p.protocol, 0, 0, false, k, v);
  }

  /// One frame.
  static stateless_verdict classify(const io::frame& f, packet::link_type lt, const host& h) noexcept {
    incoming_values v;
    stateless_verdict r;
    classify(f, lt, h, v, r);
    return r;
  }

  /// How many frames ahead the batch form asks for headers by default: enough to cover a miss (~100 ns)
  /// with the ~20-40 ns a frame takes once its headers are in the cache (on the benchmark's mix, 3 frames
  /// ahead left a third of the gain; 6, 10 and 16 were within the noise of each other).
  static constexpr std::size_t default_lookahead = 8;

  /// Frames in a row: `out[i]` is the answer for `frames[i]` (out must hold frames.size() answers). The
  /// first cache lines of frame i + Lookahead are requested while frame i is classified.
  template <std::size_t Lookahead = default_lookahead>
  static void classify(std::span<const io::frame> frames, packet::link_type lt, const host& h,
                       std::span<stateless_verdict> out) noexcept {
    incoming_values v;  // cleared once: key() writes the fields a frame gives
    const std::size_t n = frames.size() < out.size() ? frames.size() : out.size();
    for (std::size_t i = 0; i < n && i < Lookahead; ++i) prefetch_headers(frames[i]);
    for (std::size_t i = 0; i < n; ++i) {
      if (i + Lookahead < n) prefetch_headers(frames[i + Lookahead]);
      classify(frames[i], lt, h, v, out[i]);
    }
  }

 private:
  static void classify(const io::frame& f, packet::link_type lt, const host& h, incoming_values& v,
                       stateless_verdict& out) noexcept {
    using strata::detail::load_be16;
    using strata::detail::load_be32;
    const auto* b = reinterpret_cast<const std::uint8_t*>(f.data.data());
    const std::size_t size = f.data.size();
    packet::detail::common_frame c;
    path_key k;
    if (lt == packet::link_type::ethernet && size <= std::numeric_limits<std::uint32_t>::max() &&
        packet::detail::is_common(b, size, f.wire_length > size ? f.wire_length : size, c)) [[likely]] {
      // The common frame (what parse would take straight through): the few fields key() reads from a
      // `parsed` are read from the bytes, without building one.
      out.applies = fill(h, address::from_v4(load_be32(b + 26)), address::from_v4(load_be32(b + 30)),
                         c.protocol, load_be16(b + 34), load_be16(b + 36), true, k, v);
    } else if (lt == packet::link_type::ethernet &&
               (size < 14 || (load_be16(b + 12) != packet::ethertype::ipv4 &&
                              !packet::detail::is_vlan_tpid(load_be16(b + 12))))) {
      // Untagged and not IPv4 (IPv6, ARP, 802.3 ...), or too short for Ethernet: parse would give a
      // record key() declines (IPv6, not IP, malformed), so none is built.
      out.applies = false;
    } else {
      const packet::parsed p = packet::parse(f.data, lt, f.wire_length);
      out.applies = key(p, h, k, v);
    }
    // The two paths called by name, not through the pipeline's table of every path: a direct call the
    // compiler can inline. Copied whole, padding included: an assignment made g++ copy the 11 bytes of
    // data through the stack as 8 + 4 bytes that overlap (a load spanning two stores: a store-forwarding
    // stall on every frame).
    if (!out.applies) {  // from a constant: a default built on the stack was read back over its byte stores
      std::memcpy(static_cast<void*>(&out.result), &not_classified, sizeof not_classified);
      return;
    }
    no_trace t;
    const path_result r = k.kind == path_kind::tcp_inbound_segment
                              ? compiled<P>::template run<inbound_key>(v, t)
                              : compiled<P>::template run<outbound_key>(v, t);
    std::memcpy(static_cast<void*>(&out.result), &r, sizeof r);
  }

  static constexpr path_result not_classified{};
  static constexpr path_key inbound_key{path_kind::tcp_inbound_segment, family::v4, false};
  static constexpr path_key outbound_key{path_kind::tcp_outbound_segment, family::v4, false};

  // An IPv4 non-fragment's direction, path and values; `directional` ports swap with the direction (TCP,
  // UDP), others (ICMP type and code) do not.
  static bool fill(const host& h, address src, address dst, std::uint8_t protocol, std::uint16_t src_port,
                   std::uint16_t dst_port, bool directional, path_key& k, incoming_values& v) noexcept {
    const traffic_direction d = h.direction(src, dst, family::v4);
    if (d != traffic_direction::inbound && d != traffic_direction::outbound) return false;
    const bool in = d == traffic_direction::inbound;
    k = in ? inbound_key : outbound_key;
    v.local_address = in ? dst : src;
    v.remote_address = in ? src : dst;
    v.ip_protocol = protocol;
    v.local_port = in && directional ? dst_port : src_port;
    v.remote_port = in && directional ? src_port : dst_port;
    return true;
  }

  /// The link, IP and transport headers: the first two cache lines of the frame (an Ethernet + IPv4 +
  /// TCP header, 54 bytes, often straddles a line boundary).
  static void prefetch_headers(const io::frame& f) noexcept {
    const auto* b = reinterpret_cast<const char*>(f.data.data());
    __builtin_prefetch(b);
    __builtin_prefetch(b + 63);
  }
};

}  // namespace strata
