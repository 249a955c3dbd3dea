// The transport layer: TCP (data offset checked, flags, sequence numbers), UDP (length checked),
// ICMP and ICMPv6 (type/code, echo identifier/sequence, and the packet quoted by error messages).
// Per-packet code: no allocation, no exceptions; never reads past the captured bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <strata/address.hpp>
#include <strata/detail/bytes.hpp>
#include <strata/packet/error.hpp>
#include <strata/packet/ip.hpp>
#include <strata/packet/parsed.hpp>

namespace strata::packet {

/// Whether an ICMP (IPv4) type is an error message that quotes the offending packet:
/// destination unreachable (3), source quench (4), redirect (5), time exceeded (11), parameter problem (12).
constexpr bool is_icmp_error_type(std::uint8_t type) noexcept {
  return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

/// Whether an ICMPv6 type is an error message: destination unreachable (1), packet too big (2),
/// time exceeded (3), parameter problem (4).
constexpr bool is_icmpv6_error_type(std::uint8_t type) noexcept { return type >= 1 && type <= 4; }

/// Whether an ICMP (IPv4) type carries an identifier and sequence number: echo reply/request (0, 8),
/// timestamp (13, 14), information (15, 16), address mask (17, 18).
constexpr bool is_icmp_query_type(std::uint8_t type) noexcept {
  return type == 0 || type == 8 || (type >= 13 && type <= 18);
}

/// Whether an ICMPv6 type carries an identifier and sequence number: echo request/reply (128, 129).
constexpr bool is_icmpv6_query_type(std::uint8_t type) noexcept { return type == 128 || type == 129; }

/// Whether a protocol's header starts with 16-bit source and destination ports.
constexpr bool has_port_fields(std::uint8_t protocol) noexcept {
  return protocol == 6 || protocol == 17 || protocol == 33 /* DCCP */ || protocol == 132 /* SCTP */ ||
         protocol == 136 /* UDP-Lite */;
}

namespace detail {

/// Whether `need_end` bytes of the frame fit in the IP packet and in the capture.
enum class fit : std::uint8_t {
  ok,            ///< the bytes are there
  cut,           ///< the IP packet holds them but the capture stopped earlier (snap length, truncated file)
  short_packet,  ///< the IP packet's own length does not reach that far
};

inline fit check(const cursor& c, const parsed& r, std::size_t need_end) noexcept {
  if (need_end > r.ip_end) return fit::short_packet;
  return need_end <= c.captured ? fit::ok : fit::cut;
}

// A header that does not fit: malformed, except in a first fragment whose own length is too short,
// which is left to reassembly.
inline bool does_not_fit(parsed& r, fit f, parse_stage s, std::string_view cut_reason,
                         std::string_view short_reason) noexcept {
  if (f == fit::cut) return fail(r, s, cut_reason);
  if (r.frag.more) {
    r.l4 = l4_kind::fragment;
    return true;
  }
  return fail(r, s, short_reason);
}

inline bool parse_tcp(const cursor& c, parsed& r) noexcept {
  using strata::detail::load_be16;
  using strata::detail::load_be32;
  const std::size_t l = r.l4_offset;
  r.stage = parse_stage::tcp;
  if (fit f = check(c, r, l + 20); f != fit::ok)
    return does_not_fit(r, f, parse_stage::tcp, "truncated TCP header", "TCP header exceeds IP packet");
  const std::uint8_t* h = c.p + l;
  const std::size_t hl = std::size_t{static_cast<std::uint8_t>(h[12] >> 4)} * 4;
  if (hl < 20) return fail(r, parse_stage::tcp, "TCP data offset < 5");
  if (fit f = check(c, r, l + hl); f != fit::ok)
    return does_not_fit(r, f, parse_stage::tcp, "truncated TCP options", "TCP data offset exceeds IP packet");
  r.l4 = l4_kind::tcp;
  r.src_port = load_be16(h);
  r.dst_port = load_be16(h + 2);
  r.tcp.seq = load_be32(h + 4);
  r.tcp.ack = load_be32(h + 8);
  r.tcp.header_length = static_cast<std::uint8_t>(hl);
  r.tcp.flags = h[13];
  r.tcp.window = load_be16(h + 14);
  r.payload_offset = static_cast<std::uint32_t>(l + hl);
  r.payload_length = static_cast<std::uint32_t>(r.ip_end - (l + hl));
  return true;
}

inline bool parse_udp(const cursor& c, parsed& r) noexcept {
  using strata::detail::load_be16;
  const std::size_t l = r.l4_offset;
  r.stage = parse_stage::udp;
  if (fit f = check(c, r, l + 8); f != fit::ok)
    return does_not_fit(r, f, parse_stage::udp, "truncated UDP header", "UDP header exceeds IP packet");
  const std::uint8_t* h = c.p + l;
  const std::size_t len = load_be16(h + 4);
  if (len < 8) return fail(r, parse_stage::udp, "UDP length < 8");
  const std::size_t in_packet = r.ip_end - l;
  // A first fragment holds only part of the datagram that the length describes.
  if (!r.frag.more && len > in_packet) return fail(r, parse_stage::udp, "UDP length exceeds IP packet");
  r.l4 = l4_kind::udp;
  r.src_port = load_be16(h);
  r.dst_port = load_be16(h + 2);
  r.payload_offset = static_cast<std::uint32_t>(l + 8);
  r.payload_length = static_cast<std::uint32_t>((r.frag.more ? in_packet : len) - 8);
  return true;
}

// Copies up to 8 bytes of the quoted transport header at `t` (bytes before `end` only) and derives ports.
// `expected` is how many bytes the quoted packet itself had there (at most 8).
inline void quote_transport(const std::uint8_t* p, std::size_t t, std::size_t end, std::size_t expected,
                            embedded_packet& e) noexcept {
  using strata::detail::load_be16;
  std::size_t n = t < end ? end - t : 0;
  if (n > 8) n = 8;
  for (std::size_t i = 0; i < n; ++i) e.transport[i] = p[t + i];
  e.transport_length = static_cast<std::uint8_t>(n);
  if (n >= 4 && has_port_fields(e.protocol)) {
    e.has_ports = true;
    e.src_port = load_be16(p + t);
    e.dst_port = load_be16(p + t + 2);
  }
  if (n >= expected) {
    e.status = embedded_status::complete;
  } else {
    e.status = embedded_status::truncated;
    e.problem = "truncated quoted transport header";
  }
}

// The IPv4 packet quoted by an ICMP error, at `s`, readable up to `end`.
inline void parse_quoted_ipv4(const std::uint8_t* p, std::size_t s, std::size_t end,
                              embedded_packet& e) noexcept {
  using strata::detail::load_be16;
  using strata::detail::load_be32;
  e.offset = static_cast<std::uint32_t>(s);
  const std::size_t avail = end - s;
  if (avail == 0) {
    e.status = embedded_status::truncated;
    e.problem = "ICMP error quotes no packet";
    return;
  }
  const std::uint8_t* h = p + s;
  if ((h[0] >> 4) != 4) {
    e.status = embedded_status::invalid;
    e.problem = "quoted header is not IPv4";
    return;
  }
  if (avail < 20) {
    e.status = embedded_status::truncated;
    e.problem = "truncated quoted IPv4 header";
    return;
  }
  const std::size_t hl = std::size_t{h[0] & 0x0fu} * 4;
  if (hl < 20) {
    e.status = embedded_status::invalid;
    e.problem = "quoted IPv4 IHL < 5";
    return;
  }
  e.fam = family::v4;
  e.protocol = h[9];
  e.src = address::from_v4(load_be32(h + 12));
  e.dst = address::from_v4(load_be32(h + 16));
  const std::uint16_t ff = load_be16(h + 6);
  e.frag.id = load_be16(h + 4);
  e.frag.dont_fragment = (ff & 0x4000) != 0;
  e.frag.more = (ff & 0x2000) != 0;
  e.frag.offset = static_cast<std::uint16_t>((ff & 0x1fff) * 8);
  e.frag.has_header = e.frag.is_fragment();
  if (hl > avail) {
    e.status = embedded_status::truncated;
    e.problem = "truncated quoted IPv4 options";
    return;
  }
  if (e.frag.is_later()) {  // a later fragment has no transport header to quote
    e.status = embedded_status::complete;
    return;
  }
  const std::size_t total = load_be16(h + 2);
  const std::size_t expected = total <= hl ? 0 : (total - hl < 8 ? total - hl : 8);
  quote_transport(p, s + hl, end, expected, e);
}

// The IPv6 packet quoted by an ICMPv6 error, at `s`, readable up to `end`.
inline void parse_quoted_ipv6(const std::uint8_t* p, std::size_t s, std::size_t end,
                              embedded_packet& e) noexcept {
  using strata::detail::load_be16;
  using strata::detail::load_be64;
  e.offset = static_cast<std::uint32_t>(s);
  const std::size_t avail = end - s;
  if (avail == 0) {
    e.status = embedded_status::truncated;
    e.problem = "ICMPv6 error quotes no packet";
    return;
  }
  const std::uint8_t* h = p + s;
  if ((h[0] >> 4) != 6) {
    e.status = embedded_status::invalid;
    e.problem = "quoted header is not IPv6";
    return;
  }
  if (avail < 40) {
    e.status = embedded_status::truncated;
    e.problem = "truncated quoted IPv6 header";
    return;
  }
  e.fam = family::v6;
  e.src = address{load_be64(h + 8), load_be64(h + 16)};
  e.dst = address{load_be64(h + 24), load_be64(h + 32)};
  v6_walk w = walk_ipv6_chain(p, s + 40, h[6], end);
  e.frag = w.frag;
  switch (w.end) {
    case v6_walk_end::error:
      e.status = embedded_status::invalid;
      e.problem = w.error;
      return;
    case v6_walk_end::incomplete:
      e.status = embedded_status::truncated;
      e.problem = "truncated quoted IPv6 extension header";
      return;
    case v6_walk_end::later_fragment:
      e.protocol = w.nh;
      e.status = embedded_status::complete;
      return;
    case v6_walk_end::upper:
      break;
  }
  e.protocol = w.nh;
  const std::size_t total = 40 + std::size_t{load_be16(h + 4)};
  const std::size_t used = w.off - s;
  const std::size_t expected = total <= used ? 0 : (total - used < 8 ? total - used : 8);
  quote_transport(p, w.off, end, expected, e);
}

inline bool parse_icmp(const cursor& c, parsed& r, bool v6) noexcept {
  using strata::detail::load_be16;
  using strata::detail::load_be32;
  const std::size_t l = r.l4_offset;
  const parse_stage stage = v6 ? parse_stage::icmpv6 : parse_stage::icmp;
  r.stage = stage;
  if (fit f = check(c, r, l + 8); f != fit::ok)
    return does_not_fit(r, f, stage, v6 ? "truncated ICMPv6 header" : "truncated ICMP header",
                        v6 ? "ICMPv6 header exceeds IP packet" : "ICMP header exceeds IP packet");
  const std::uint8_t* h = c.p + l;
  r.l4 = v6 ? l4_kind::icmpv6 : l4_kind::icmp;
  r.icmp = icmp_info{};  // `parsed` leaves it unwritten until an ICMP header is found
  r.icmp.type = h[0];
  r.icmp.code = h[1];
  r.icmp.rest = load_be32(h + 4);
  r.payload_offset = static_cast<std::uint32_t>(l + 8);
  r.payload_length = static_cast<std::uint32_t>(r.ip_end - (l + 8));
  if (v6 ? is_icmpv6_query_type(h[0]) : is_icmp_query_type(h[0])) {
    r.icmp.has_id = true;
    r.icmp.id = load_be16(h + 4);
    r.icmp.seq = load_be16(h + 6);
  } else if (v6 ? is_icmpv6_error_type(h[0]) : is_icmp_error_type(h[0])) {
    r.icmp.is_error = true;
    const std::size_t end = r.ip_end < c.captured ? r.ip_end : c.captured;
    if (v6)
      parse_quoted_ipv6(c.p, l + 8, end, r.icmp.embedded);
    else
      parse_quoted_ipv4(c.p, l + 8, end, r.icmp.embedded);
  }
  return true;
}

/// Parses the transport header of an IP packet whose network fields `r` holds.
inline bool parse_transport(const cursor& c, parsed& r) noexcept {
  if (r.l4 == l4_kind::fragment) return true;  // a later fragment, or a first one cut inside the IPv6 chain
  switch (r.protocol) {
    case ip_proto::tcp:
      return parse_tcp(c, r);
    case ip_proto::udp:
      return parse_udp(c, r);
    case ip_proto::icmp:
      if (r.fam == family::v4) return parse_icmp(c, r, false);
      break;
    case ip_proto::icmpv6:
      if (r.fam == family::v6) return parse_icmp(c, r, true);
      break;
    case ip_proto::nonext:
      if (r.fam == family::v6) {
        r.l4 = l4_kind::none;
        return true;
      }
      break;
    default:
      break;
  }
  r.l4 = l4_kind::other;
  return true;
}

}  // namespace detail

}  // namespace strata::packet
