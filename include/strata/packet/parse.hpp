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

/// Parses one frame of link type `lt`. `wire_length` is the frame's original length when the capture
/// kept only a prefix of it (pcap's `len` versus `caplen`); 0 (or anything <= frame.size()) means the
/// frame is complete. When the frame is a snapped prefix, IP/UDP lengths that exceed the captured bytes
/// but not the wire length are accepted and `captured_truncated` is set; a header that the cut itself
/// splits is still malformed ("truncated TCP header"), since its fields are unknown.
inline parsed parse(std::span<const std::byte> frame, link_type lt, std::size_t wire_length = 0) noexcept {
  parsed r;
  const auto* p = reinterpret_cast<const std::uint8_t*>(frame.data());
  const std::size_t size = frame.size();
  if (size > std::numeric_limits<std::uint32_t>::max()) {
    detail::fail(r, parse_stage::link, "frame too large");
    return r;
  }
  const detail::cursor c{p, size, wire_length > size ? wire_length : size};
  bool ok = false;
  switch (parse_link(p, size, lt, r.link, r.malformed)) {
    case link_payload::malformed:
      r.status = parse_status::malformed;
      r.stage = parse_stage::link;
      return r;
    case link_payload::not_ip:
      r.status = parse_status::not_ip;
      r.stage = parse_stage::link;
      return r;
    case link_payload::ipv4:
      ok = detail::parse_ipv4(c, r.link.header_length, r);
      break;
    case link_payload::ipv6:
      ok = detail::parse_ipv6(c, r.link.header_length, r);
      break;
  }
  if (ok && detail::parse_transport(c, r)) r.status = parse_status::ok;
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
