// strata::packet::parse — one captured frame in, one `parsed` record out.
//
//   auto r = strata::packet::parse(frame_bytes, strata::packet::link_type::ethernet);
//   if (r.ok() && r.l4 == strata::packet::l4_kind::tcp && r.tcp.is_syn()) ...
//
// Per-packet path: no heap allocation, no exceptions, no virtual calls. Every header is bounds-checked
// once against the captured bytes before its fields are read; nothing past frame.size() is ever read.
// The result holds offsets into the frame (zero copy) and the decoded header fields.
//
// Outcomes: `ok` (an IP packet, parsed as far as it goes), `not_ip` (ARP, LLDP, ...), or `malformed`
// with a static reason string and the stage where parsing stopped. A later fragment is `ok` with
// `l4 == l4_kind::fragment`. Checksums are not verified (offloading makes captured checksums unreliable).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>

#include <strata/io/frame.hpp>
#include <strata/packet/error.hpp>
#include <strata/packet/ip.hpp>
#include <strata/packet/link.hpp>
#include <strata/packet/parsed.hpp>
#include <strata/packet/transport.hpp>

namespace strata::packet {

namespace detail {

/// What the checks of the common frame read, for the writing that follows them.
struct common_frame {
  std::size_t total = 0;      ///< IPv4 total length
  std::size_t ip_end = 0;     ///< 14 + total
  std::size_t l4_header = 0;  ///< TCP: its data offset; UDP: 8
  std::size_t udp_length = 0;
  std::uint16_t ff = 0;  ///< IPv4 flags and fragment offset (only DF may be set)
  std::uint8_t protocol = 0;
};

/// Whether a frame is the common one, untagged Ethernet II + IPv4 without options or fragmentation +
/// TCP or UDP, that every test of the general path below would take straight through: a short frame, a
/// tag, options, a fragment, a header that does not fit or a bad length make it false. Reads only.
/// `wire` is max(wire length, captured size).
inline bool is_common(const std::uint8_t* p, std::size_t size, std::size_t wire, common_frame& c) noexcept {
  using strata::detail::load_be16;
  constexpr std::size_t l3 = 14, l4 = l3 + 20;
  if (size < l4 + 8 || load_be16(p + 12) != ethertype::ipv4) return false;
  const std::uint8_t* h = p + l3;
  c.total = load_be16(h + 2);
  c.ff = load_be16(h + 6);
  c.protocol = h[9];
  // IHL 5, no MF and offset 0 (DF may be set), TCP or UDP, a length the frame can hold.
  if (h[0] != 0x45 || (c.ff & 0x3fff) != 0 || (c.protocol != ip_proto::tcp && c.protocol != ip_proto::udp) ||
      c.total < 20 || c.total > wire - l3)
    return false;
  c.ip_end = l3 + c.total;
  const std::uint8_t* t = p + l4;
  if (c.protocol == ip_proto::tcp) {
    if (l4 + 20 > c.ip_end || l4 + 20 > size) return false;
    c.l4_header = std::size_t{static_cast<std::uint8_t>(t[12] >> 4)} * 4;
    return c.l4_header >= 20 && l4 + c.l4_header <= c.ip_end && l4 + c.l4_header <= size;
  }
  if (l4 + 8 > c.ip_end) return false;
  c.udp_length = load_be16(t + 4);
  c.l4_header = 8;
  return c.udp_length >= 8 && c.udp_length <= c.ip_end - l4;
}

/// An IPv4 address written in one 16-byte store. Written as two 8-byte halves (what `a = from_v4(v)`
/// compiles to), the engine's first 16-byte load of it, a few dozen instructions later, could not be
/// forwarded from the store buffer: a stall on every frame. Loads of either half forward from the wide store.
inline void store_v4(address& a, std::uint32_t v) noexcept {
#if defined(__GNUC__) && defined(__SSE2__)
  using u64x2 = std::uint64_t __attribute__((vector_size(16)));
  const u64x2 x = {0, v};  // {hi, lo}
  static_assert(sizeof(address) == sizeof(x) && offsetof(address, lo) == 8);
  __builtin_memcpy(static_cast<void*>(&a), &x, sizeof x);
#else
  a = address::from_v4(v);
#endif
}

/// The common frame in one straight line: writes what the general path writes for it
/// (tests/unit/packet_fast_path_test.cpp compares the two field by field).
inline void parse_common(const std::uint8_t* p, std::size_t size, const common_frame& c, parsed& r) noexcept {
  using strata::detail::load_be16;
  using strata::detail::load_be32;
  constexpr std::size_t l3 = 14, l4 = l3 + 20;
  const std::uint8_t* h = p + l3;
  const std::uint8_t* t = p + l4;
  for (std::size_t i = 0; i < 6; ++i) {
    r.link.dst_mac[i] = p[i];
    r.link.src_mac[i] = p[6 + i];
  }
  r.link.has_dst_mac = true;
  r.link.has_src_mac = true;
  r.link.ethertype = ethertype::ipv4;
  r.link.header_length = l3;
  r.status = parse_status::ok;
  r.fam = family::v4;
  r.tos = h[1];
  r.frag.id = load_be16(h + 4);
  r.frag.dont_fragment = (c.ff & 0x4000) != 0;
  r.frag.data_offset = l4;
  r.ttl = h[8];
  r.protocol = c.protocol;
  store_v4(r.src, load_be32(h + 12));
  store_v4(r.dst, load_be32(h + 16));
  r.ip_header_length = 20;
  r.ip_total_length = static_cast<std::uint32_t>(c.total);
  r.ip_end = static_cast<std::uint32_t>(c.ip_end);
  r.captured_truncated = c.ip_end > size;
  r.l3_offset = l3;
  r.l4_offset = l4;
  r.payload_offset = static_cast<std::uint32_t>(l4 + c.l4_header);
  r.src_port = load_be16(t);
  r.dst_port = load_be16(t + 2);
  if (c.protocol == ip_proto::tcp) {
    r.stage = parse_stage::tcp;
    r.l4 = l4_kind::tcp;
    r.tcp.seq = load_be32(t + 4);
    r.tcp.ack = load_be32(t + 8);
    r.tcp.header_length = static_cast<std::uint8_t>(c.l4_header);
    r.tcp.flags = t[13];
    r.tcp.window = load_be16(t + 14);
    r.payload_length = static_cast<std::uint32_t>(c.ip_end - (l4 + c.l4_header));
  } else {
    r.stage = parse_stage::udp;
    r.l4 = l4_kind::udp;
    r.payload_length = static_cast<std::uint32_t>(c.udp_length - 8);
  }
}

/// Every frame, every link type: link header, IP header and extensions, transport header, one step
/// after the other. `r` is as `parsed` default-constructs it.
inline void parse_general(const std::uint8_t* p, std::size_t size, link_type lt, std::size_t wire_length,
                          parsed& r) noexcept {
  if (size > std::numeric_limits<std::uint32_t>::max()) {
    fail(r, parse_stage::link, "frame too large");
    return;
  }
  const cursor c{p, size, wire_length > size ? wire_length : size};
  bool ok = false;
  switch (parse_link(p, size, lt, r.link, r.malformed)) {
    case link_payload::malformed:
      r.status = parse_status::malformed;
      r.stage = parse_stage::link;
      return;
    case link_payload::not_ip:
      r.status = parse_status::not_ip;
      r.stage = parse_stage::link;
      return;
    case link_payload::ipv4:
      ok = parse_ipv4(c, r.link.header_length, r);
      break;
    case link_payload::ipv6:
      ok = parse_ipv6(c, r.link.header_length, r);
      break;
  }
  if (ok && parse_transport(c, r)) r.status = parse_status::ok;
}

}  // namespace detail

/// Parses one frame of link type `lt`. `wire_length` is the frame's original length when the capture
/// kept only a prefix of it (pcap's `len` versus `caplen`); 0 (or anything <= frame.size()) means the
/// frame is complete. When the frame is a snapped prefix, IP/UDP lengths that exceed the captured bytes
/// but not the wire length are accepted and `captured_truncated` is set; a header that the cut itself
/// splits is still malformed ("truncated TCP header"), since its fields are unknown.
inline parsed parse(std::span<const std::byte> frame, link_type lt, std::size_t wire_length = 0) noexcept {
  parsed r;
  const auto* p = reinterpret_cast<const std::uint8_t*>(frame.data());
  const std::size_t size = frame.size();
  // Most frames take the straight line; the others go the general way.
  detail::common_frame c;
  if (lt == link_type::ethernet && size <= std::numeric_limits<std::uint32_t>::max() &&
      detail::is_common(p, size, wire_length > size ? wire_length : size, c)) [[likely]] {
    detail::parse_common(p, size, c, r);
    return r;
  }
  detail::parse_general(p, size, lt, wire_length, r);
  return r;
}

/// Parses a frame delivered by a capture source (its wire length tells whether it was snapped).
inline parsed parse(const io::frame& f, link_type lt) noexcept { return parse(f.data, lt, f.wire_length); }

/// Parses a bare IP packet (version from the first nibble), e.g. a reassembled datagram.
inline parsed parse_ip(std::span<const std::byte> packet, std::size_t wire_length = 0) noexcept {
  return parse(packet, link_type::raw, wire_length);
}

/// The transport payload bytes present in `frame` (clipped to what was captured).
inline std::span<const std::byte> payload(std::span<const std::byte> frame, const parsed& r) noexcept {
  if (r.status != parse_status::ok || r.payload_offset > frame.size()) return {};
  return frame.subspan(r.payload_offset, r.captured_payload_length(frame.size()));
}

/// The IP packet bytes present in `frame`: from the IP header to its end per its length (link padding
/// removed), clipped to what was captured.
inline std::span<const std::byte> ip_packet(std::span<const std::byte> frame, const parsed& r) noexcept {
  if (r.status != parse_status::ok) return {};
  std::size_t end = r.ip_end < frame.size() ? r.ip_end : frame.size();
  return frame.subspan(r.l3_offset, end - r.l3_offset);
}

}  // namespace strata::packet
