// The network layer: IPv4 (options validated, total length checked and used to trim link padding,
// fragment fields) and IPv6 (extension-header chain walked up to the upper-layer protocol, bounded).
// Per-packet code: no allocation, no exceptions; every read is preceded by one bounds check per header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <strata/address.hpp>
#include <strata/detail/bytes.hpp>
#include <strata/packet/error.hpp>
#include <strata/packet/parsed.hpp>

namespace strata::packet {

/// At most this many IPv6 extension headers are walked; a longer chain is malformed
/// ("IPv6 extension header chain too long"). The same bound applies to packets quoted in ICMPv6 errors.
inline constexpr unsigned max_ipv6_extension_headers = 16;

namespace detail {

/// The frame being parsed: its bytes, how many were captured, and how long it was on the wire.
struct cursor {
  const std::uint8_t* p = nullptr;  ///< first byte of the frame
  std::size_t captured = 0;         ///< bytes present at `p`
  std::size_t wire = 0;             ///< original length (>= captured); longer when the capture was snapped
};

/// Marks `r` malformed; returns false so that callers can `return fail(...)`.
inline bool fail(parsed& r, parse_stage s, std::string_view why) noexcept {
  r.status = parse_status::malformed;
  r.stage = s;
  r.malformed = {why, s};
  return false;
}

/// Where the IPv6 header walk ended.
enum class v6_walk_end : std::uint8_t {
  upper,           ///< reached an upper-layer protocol (or ESP / no-next-header): `nh` at `off`
  later_fragment,  ///< walked a fragment header with offset > 0: `nh` is its next header, data at `off`
  incomplete,  ///< the header `nh` at `off` does not fit before the window's end (it would end at `need_end`)
  error,       ///< the chain itself is invalid: `error` says why
};

struct v6_walk {
  v6_walk_end end = v6_walk_end::upper;
  std::uint8_t nh = 0;       ///< protocol reached, or the header type that did not fit
  std::uint8_t count = 0;    ///< extension headers walked
  std::size_t off = 0;       ///< offset of the upper-layer header (or of the header that did not fit)
  std::size_t need_end = 0;  ///< incomplete: where that header would end
  std::string_view error{};  ///< error: the reason
  fragment_info frag{};      ///< the fragment header, if one was walked
};

/// Walks IPv6 extension headers from `off` (first next-header value `nh`), reading only bytes before
/// `end`. Hop-by-hop must come first; one fragment header at most; ESP ends the walk (its contents
/// are encrypted); AH's length is in 4-byte units (RFC 4302), the others' in 8-byte units (RFC 8200).
inline v6_walk walk_ipv6_chain(const std::uint8_t* p, std::size_t off, std::uint8_t nh,
                               std::size_t end) noexcept {
  using strata::detail::load_be16;
  using strata::detail::load_be32;
  v6_walk w;
  for (;;) {
    std::size_t len;
    switch (nh) {
      case ip_proto::hopopts:
        if (w.count != 0) {
          w.end = v6_walk_end::error;
          w.error = "IPv6 hop-by-hop header not first";
          w.nh = nh;
          w.off = off;
          return w;
        }
        [[fallthrough]];
      case ip_proto::routing:
      case ip_proto::dstopts:
      case ip_proto::ah:
        break;
      case ip_proto::fragment:
        break;
      default:  // upper layer, ESP (50) or no next header (59)
        w.end = v6_walk_end::upper;
        w.nh = nh;
        w.off = off;
        return w;
    }
    if (w.count == max_ipv6_extension_headers) {
      w.end = v6_walk_end::error;
      w.error = "IPv6 extension header chain too long";
      w.nh = nh;
      w.off = off;
      return w;
    }
    w.nh = nh;
    w.off = off;
    if (nh == ip_proto::fragment) {
      if (w.frag.has_header) {
        w.end = v6_walk_end::error;
        w.error = "IPv6 duplicate fragment header";
        return w;
      }
      if (end - off < 8) {
        w.end = v6_walk_end::incomplete;
        w.need_end = off + 8;
        return w;
      }
      std::uint16_t fo = load_be16(p + off + 2);
      w.frag.has_header = true;
      w.frag.offset = static_cast<std::uint16_t>(fo & 0xfff8);
      w.frag.more = (fo & 1) != 0;
      w.frag.id = load_be32(p + off + 4);
      w.frag.header_offset = static_cast<std::uint32_t>(off);
      w.frag.data_offset = static_cast<std::uint32_t>(off + 8);
      nh = p[off];
      off += 8;
      ++w.count;
      if (w.frag.offset != 0) {
        w.end = v6_walk_end::later_fragment;
        w.nh = nh;
        w.off = off;
        return w;
      }
      continue;
    }
    if (end - off < 2) {
      w.end = v6_walk_end::incomplete;
      w.need_end = off + 2;
      return w;
    }
    len = nh == ip_proto::ah ? (std::size_t{p[off + 1]} + 2) * 4 : (std::size_t{p[off + 1]} + 1) * 8;
    if (end - off < len) {
      w.end = v6_walk_end::incomplete;
      w.need_end = off + len;
      return w;
    }
    nh = p[off];
    off += len;
    ++w.count;
  }
}

/// Parses the IPv4 header at offset `o`. On success fills the network fields of `r` and returns true.
inline bool parse_ipv4(const cursor& c, std::size_t o, parsed& r) noexcept {
  using strata::detail::load_be16;
  using strata::detail::load_be32;
  r.stage = parse_stage::ipv4;
  r.l3_offset = static_cast<std::uint32_t>(o);
  const std::size_t cap = c.captured - o;
  if (cap < 20) return fail(r, parse_stage::ipv4, "truncated IPv4 header");
  const std::uint8_t* h = c.p + o;
  if ((h[0] >> 4) != 4) return fail(r, parse_stage::ipv4, "IPv4 version is not 4");
  const std::size_t hl = std::size_t{h[0] & 0x0fu} * 4;
  if (hl < 20) return fail(r, parse_stage::ipv4, "IPv4 IHL < 5");
  if (hl > cap) return fail(r, parse_stage::ipv4, "truncated IPv4 options");
  const std::size_t total = load_be16(h + 2);
  if (total < hl) return fail(r, parse_stage::ipv4, "IPv4 total length < header length");
  if (total > c.wire - o) return fail(r, parse_stage::ipv4, "IPv4 total length exceeds frame");
  // Options: EOL ends the list, NOP is one byte, every other option is type, length (>= 2), data.
  for (std::size_t i = 20; i < hl;) {
    std::uint8_t type = h[i];
    if (type == 0) break;
    if (type == 1) {
      ++i;
      continue;
    }
    if (hl - i < 2 || h[i + 1] < 2 || h[i + 1] > hl - i)
      return fail(r, parse_stage::ipv4, "IPv4 option length invalid");
    i += h[i + 1];
  }
  r.fam = family::v4;
  r.tos = h[1];
  const std::uint16_t ff = load_be16(h + 6);
  r.frag.id = load_be16(h + 4);
  r.frag.dont_fragment = (ff & 0x4000) != 0;
  r.frag.more = (ff & 0x2000) != 0;
  r.frag.offset = static_cast<std::uint16_t>((ff & 0x1fff) * 8);
  r.frag.has_header = r.frag.is_fragment();
  r.frag.data_offset = static_cast<std::uint32_t>(o + hl);
  r.ttl = h[8];
  r.protocol = h[9];
  r.src = address::from_v4(load_be32(h + 12));
  r.dst = address::from_v4(load_be32(h + 16));
  r.ipv4_options_length = static_cast<std::uint8_t>(hl - 20);
  r.ip_header_length = static_cast<std::uint16_t>(hl);
  r.ip_total_length = static_cast<std::uint32_t>(total);
  r.ip_end = static_cast<std::uint32_t>(o + total);
  r.captured_truncated = r.ip_end > c.captured;
  r.l4_offset = static_cast<std::uint32_t>(o + hl);
  r.payload_offset = r.l4_offset;
  r.payload_length = static_cast<std::uint32_t>(total - hl);
  if (r.frag.is_later()) r.l4 = l4_kind::fragment;
  return true;
}

/// Parses the IPv6 header at offset `o` and walks its extension headers. On success fills the network
/// fields of `r` (protocol = the upper-layer protocol) and returns true.
inline bool parse_ipv6(const cursor& c, std::size_t o, parsed& r) noexcept {
  using strata::detail::load_be16;
  using strata::detail::load_be32;
  using strata::detail::load_be64;
  r.stage = parse_stage::ipv6;
  r.l3_offset = static_cast<std::uint32_t>(o);
  const std::size_t cap = c.captured - o;
  if (cap < 40) return fail(r, parse_stage::ipv6, "truncated IPv6 header");
  const std::uint8_t* h = c.p + o;
  if ((h[0] >> 4) != 6) return fail(r, parse_stage::ipv6, "IPv6 version is not 6");
  const std::size_t total = 40 + std::size_t{load_be16(h + 4)};
  if (total > c.wire - o) return fail(r, parse_stage::ipv6, "IPv6 payload length exceeds frame");
  r.fam = family::v6;
  r.tos = static_cast<std::uint8_t>(load_be16(h) >> 4);
  r.ttl = h[7];
  r.src = address{load_be64(h + 8), load_be64(h + 16)};
  r.dst = address{load_be64(h + 24), load_be64(h + 32)};
  r.ip_total_length = static_cast<std::uint32_t>(total);
  r.ip_end = static_cast<std::uint32_t>(o + total);
  r.captured_truncated = r.ip_end > c.captured;
  const std::size_t window_end = r.ip_end < c.captured ? r.ip_end : c.captured;
  v6_walk w = walk_ipv6_chain(c.p, o + 40, h[6], window_end);
  r.ipv6_extension_count = w.count;
  r.frag = w.frag;
  if (w.count != 0) r.stage = parse_stage::ipv6_extension;
  switch (w.end) {
    case v6_walk_end::error:
      return fail(r, parse_stage::ipv6_extension, w.error);
    case v6_walk_end::incomplete:
      if (w.need_end <= r.ip_end)
        return fail(r, parse_stage::ipv6_extension, "truncated IPv6 extension header");
      // A first fragment may end inside the header chain; reassembly will see the rest.
      if (!w.frag.more)
        return fail(r, parse_stage::ipv6_extension, "IPv6 extension header exceeds payload length");
      r.l4 = l4_kind::fragment;
      break;
    case v6_walk_end::later_fragment:
      r.l4 = l4_kind::fragment;
      break;
    case v6_walk_end::upper:
      break;
  }
  r.protocol = w.nh;
  r.l4_offset = static_cast<std::uint32_t>(w.off);
  r.ip_header_length = static_cast<std::uint16_t>(w.off - o);
  r.payload_offset = r.l4_offset;
  r.payload_length = static_cast<std::uint32_t>(total - (w.off - o));
  return true;
}

}  // namespace detail

}  // namespace strata::packet
