// Where a frame's parsing stopped, and why it failed: shared by every layer of strata::packet.
#pragma once

#include <cstdint>
#include <string_view>

namespace strata::packet {

/// The header being parsed when parsing stopped (or failed).
enum class parse_stage : std::uint8_t {
  link,            ///< link-layer header (Ethernet, VLAN tags, Linux cooked, loopback, raw)
  ipv4,            ///< IPv4 header and options
  ipv6,            ///< IPv6 fixed header
  ipv6_extension,  ///< IPv6 extension-header chain (hop-by-hop, routing, fragment, destination options, AH)
  tcp,             ///< TCP header and options
  udp,             ///< UDP header
  icmp,            ///< ICMP (IPv4) header
  icmpv6,          ///< ICMPv6 header
};

/// The stage's name as used in records ("ipv6_extension").
constexpr std::string_view name(parse_stage s) noexcept {
  switch (s) {
    case parse_stage::link:
      return "link";
    case parse_stage::ipv4:
      return "ipv4";
    case parse_stage::ipv6:
      return "ipv6";
    case parse_stage::ipv6_extension:
      return "ipv6_extension";
    case parse_stage::tcp:
      return "tcp";
    case parse_stage::udp:
      return "udp";
    case parse_stage::icmp:
      return "icmp";
    case parse_stage::icmpv6:
      return "icmpv6";
  }
  return "unknown";
}

/// Why a frame is malformed. `reason` always points to a string literal (static storage):
/// it may be kept after the frame is gone. An empty reason means "not malformed".
struct parse_error {
  std::string_view reason{};              ///< short human-readable cause, e.g. "truncated IPv4 header"
  parse_stage stage = parse_stage::link;  ///< the header that could not be parsed

  constexpr explicit operator bool() const noexcept { return !reason.empty(); }
  friend constexpr bool operator==(const parse_error&, const parse_error&) = default;
};

}  // namespace strata::packet
