// The result of parsing one frame: a flat, trivially copyable record of offsets and header fields.
// It holds no pointer into the frame; offsets are relative to the frame's first byte, so the caller
// keeps the frame and reads any further bytes (payload, options) from it.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include <strata/address.hpp>
#include <strata/packet/error.hpp>
#include <strata/packet/link.hpp>

namespace strata::packet {

/// The outcome of `parse`.
enum class parse_status : std::uint8_t {
  ok,         ///< an IP packet, parsed as far as it goes (see `l4`)
  not_ip,     ///< a frame that carries no IP packet (ARP, LLDP, ...): not malformed, visits no IP layer
  malformed,  ///< the frame could not be parsed: `malformed` says why and where
};

/// What sits after the IP header(s), as far as this parser got.
enum class l4_kind : std::uint8_t {
  none,      ///< nothing: not IP, malformed before the transport header, or IPv6 "no next header" (59)
  tcp,       ///< a TCP header was parsed: ports and `tcp` are valid
  udp,       ///< a UDP header was parsed: ports are valid
  icmp,      ///< an ICMP (IPv4) header was parsed: `icmp` is valid
  icmpv6,    ///< an ICMPv6 header was parsed: `icmp` is valid
  other,     ///< an upper-layer protocol this parser does not decode (GRE, SCTP, ESP, ...): ports are 0
  fragment,  ///< a fragment without a (complete) transport header: a later fragment (offset > 0), or a
             ///< first fragment too short to hold it; reassembly is needed to see the transport layer
};

/// IP protocol numbers used by the parser.
namespace ip_proto {
inline constexpr std::uint8_t hopopts = 0;    ///< IPv6 hop-by-hop options
inline constexpr std::uint8_t icmp = 1;       ///< ICMP
inline constexpr std::uint8_t tcp = 6;        ///< TCP
inline constexpr std::uint8_t udp = 17;       ///< UDP
inline constexpr std::uint8_t routing = 43;   ///< IPv6 routing header
inline constexpr std::uint8_t fragment = 44;  ///< IPv6 fragment header
inline constexpr std::uint8_t esp = 50;       ///< IPsec ESP (ends the IPv6 header walk)
inline constexpr std::uint8_t ah = 51;        ///< IPsec AH
inline constexpr std::uint8_t icmpv6 = 58;    ///< ICMPv6
inline constexpr std::uint8_t nonext = 59;    ///< IPv6 no next header
inline constexpr std::uint8_t dstopts = 60;   ///< IPv6 destination options
}  // namespace ip_proto

/// TCP flag bits as found in `tcp_info::flags`.
namespace tcp_flag {
inline constexpr std::uint8_t fin = 0x01;  ///< FIN
inline constexpr std::uint8_t syn = 0x02;  ///< SYN
inline constexpr std::uint8_t rst = 0x04;  ///< RST
inline constexpr std::uint8_t psh = 0x08;  ///< PSH
inline constexpr std::uint8_t ack = 0x10;  ///< ACK
inline constexpr std::uint8_t urg = 0x20;  ///< URG
inline constexpr std::uint8_t ece = 0x40;  ///< ECE
inline constexpr std::uint8_t cwr = 0x80;  ///< CWR
}  // namespace tcp_flag

/// IPv4 fragmentation fields, or those of an IPv6 fragment header.
struct fragment_info {
  std::uint32_t id = 0;        ///< IPv4 identification (16 bits) or IPv6 fragment header identification
  std::uint16_t offset = 0;    ///< byte offset of this fragment's data in the original datagram (field * 8)
  bool more = false;           ///< MF (IPv4) / M (IPv6): more fragments follow
  bool dont_fragment = false;  ///< IPv4 DF flag (always false for IPv6)
  bool has_header =
      false;  ///< IPv6: a fragment header is present (also for atomic fragments); IPv4: same as is_fragment()
  std::uint32_t header_offset = 0;  ///< IPv6: offset of the fragment header in the frame (0 for IPv4)
  std::uint32_t data_offset = 0;  ///< offset in the frame of the fragmentable data (IPv4: after the options;
                                  ///< IPv6: after the fragment header)

  /// A real fragment (not an atomic IPv6 fragment): part of a datagram that needs reassembly.
  constexpr bool is_fragment() const noexcept { return more || offset != 0; }
  /// A non-first fragment: it carries no transport header.
  constexpr bool is_later() const noexcept { return offset != 0; }
};

/// TCP header fields (valid when `l4 == l4_kind::tcp`).
struct tcp_info {
  std::uint32_t seq = 0;           ///< sequence number
  std::uint32_t ack = 0;           ///< acknowledgment number
  std::uint8_t flags = 0;          ///< FIN..CWR bits, see `tcp_flag`
  std::uint8_t header_length = 0;  ///< data offset * 4, options included (20..60)
  std::uint16_t window = 0;        ///< receive window (unscaled)

  constexpr bool has(std::uint8_t f) const noexcept { return (flags & f) == f; }
  /// SYN without ACK: an active open.
  constexpr bool is_syn() const noexcept {
    return (flags & (tcp_flag::syn | tcp_flag::ack)) == tcp_flag::syn;
  }
  /// SYN with ACK: the answer to an active open.
  constexpr bool is_syn_ack() const noexcept { return has(tcp_flag::syn | tcp_flag::ack); }
  constexpr bool is_rst() const noexcept { return (flags & tcp_flag::rst) != 0; }
  constexpr bool is_fin() const noexcept { return (flags & tcp_flag::fin) != 0; }
};

/// How much of the packet quoted in an ICMP error could be read.
enum class embedded_status : std::uint8_t {
  none,       ///< not an ICMP error message
  complete,   ///< IP header and the first 8 bytes of the transport header were read
  truncated,  ///< the quote stops early: what was read is filled in (see `problem`)
  invalid,    ///< the quoted header is not a valid IP header (see `problem`); nothing past it is filled in
};

/// The original packet quoted by an ICMP/ICMPv6 error message: its IP header and the first 8 bytes of
/// its transport header. Best effort: a short or broken quote never makes the outer packet malformed.
struct embedded_packet {
  embedded_status status = embedded_status::none;  ///< how much was read
  family fam = family::none;                       ///< family of the quoted packet (none if unreadable)
  std::uint8_t protocol = 0;  ///< its upper-layer protocol (after IPv6 extension headers)
  bool has_ports =
      false;  ///< src_port/dst_port are valid (TCP, UDP, SCTP, DCCP, UDP-Lite with >= 4 bytes quoted)
  std::uint8_t transport_length = 0;  ///< bytes of transport header quoted in `transport` (0..8)
  address src{};                      ///< quoted source address (normally the ICMP error's destination)
  address dst{};                      ///< quoted destination address
  std::uint16_t src_port = 0;         ///< quoted source port
  std::uint16_t dst_port = 0;         ///< quoted destination port
  std::array<std::uint8_t, 8>
      transport{};       ///< the first bytes of the quoted transport header (ICMP echo id/seq, TCP seq...)
  fragment_info frag{};  ///< quoted fragment fields (a quoted later fragment has no ports)
  std::uint32_t offset = 0;    ///< offset in the frame of the quoted IP header
  std::string_view problem{};  ///< why the quote is truncated or invalid (static string), empty when complete
};

/// ICMP / ICMPv6 fields (valid when `l4` is icmp or icmpv6).
struct icmp_info {
  std::uint8_t type = 0;  ///< message type
  std::uint8_t code = 0;  ///< message code
  bool has_id = false;  ///< `id`/`seq` are valid: echo request/reply (and ICMPv4 timestamp/info/mask queries)
  bool is_error = false;       ///< an error message quoting a packet: ICMP 3,4,5,11,12; ICMPv6 1,2,3,4
  std::uint16_t id = 0;        ///< query identifier
  std::uint16_t seq = 0;       ///< query sequence number
  std::uint32_t rest = 0;      ///< bytes 4..7 of the header (unused / MTU / pointer / gateway), host order
  embedded_packet embedded{};  ///< the quoted packet of an error message
};

/// Everything `parse` learned about one frame. Offsets are from the first byte of the frame; lengths
/// are those the headers state. When the capture cut the packet short (`captured_truncated`), bytes
/// past the captured size are not in the frame even though the lengths count them. Every field is
/// initialized except `icmp`, which holds a value only when `l4` is icmp or icmpv6.
struct parsed {
  // Written out so that `icmp` below can stay unwritten (an anonymous union member with a non-trivial
  // default constructor would delete the implicit one); every other member has its initializer.
  constexpr parsed() noexcept {}

  parse_status status = parse_status::malformed;  ///< ok, not_ip or malformed
  parse_stage stage = parse_stage::link;  ///< the last header parsed (ok) or the one that failed (malformed)
  parse_error malformed{};                ///< reason and stage when status == malformed; empty otherwise
  link_info link{};  ///< link-layer details (type, VLAN ids, Linux cooked direction/ifindex)

  family fam = family::none;  ///< network family: v4, v6, or none when not IP
  address src{};              ///< IP source address
  address dst{};              ///< IP destination address
  std::uint8_t protocol =
      0;  ///< upper-layer protocol: IPv4 protocol, or IPv6's last next header (after extension headers)
  std::uint8_t ttl = 0;  ///< IPv4 TTL or IPv6 hop limit
  std::uint8_t tos = 0;  ///< IPv4 type of service / IPv6 traffic class (DSCP and ECN)
  std::uint8_t ipv6_extension_count =
      0;  ///< IPv6 extension headers walked (hop-by-hop, routing, fragment, dstopts, AH)
  bool captured_truncated = false;       ///< the IP packet is longer than what was captured (snap length)
  std::uint8_t ipv4_options_length = 0;  ///< IPv4: bytes of options (IHL * 4 - 20)
  std::uint16_t ip_header_length = 0;    ///< bytes from the IP header to the transport header (IPv4 options /
                                         ///< IPv6 extension headers included)
  std::uint32_t ip_total_length =
      0;                 ///< IPv4 total length, or 40 + IPv6 payload length: the packet without link padding
  fragment_info frag{};  ///< fragmentation fields

  std::uint32_t l3_offset = 0;  ///< offset of the IP header
  std::uint32_t l4_offset =
      0;  ///< offset of the transport header (after IPv4 options / IPv6 extension headers)
  std::uint32_t payload_offset =
      0;  ///< offset of the transport payload (after TCP options, the UDP or ICMP header)
  std::uint32_t payload_length =
      0;  ///< transport payload bytes per the headers (UDP: its length field; TCP/other: from the IP length)
  std::uint32_t ip_end = 0;  ///< offset just past the IP packet per its length (link padding excluded); may
                             ///< exceed the frame if captured_truncated

  l4_kind l4 = l4_kind::none;  ///< which transport header was parsed
  std::uint16_t src_port = 0;  ///< TCP/UDP source port (0 otherwise)
  std::uint16_t dst_port = 0;  ///< TCP/UDP destination port (0 otherwise)
  tcp_info tcp{};              ///< TCP fields (l4 == tcp)
  // `icmp` (~110 bytes, over half of the record) is valid only when l4 is icmp or icmpv6, and only
  // written then: zeroing it on every TCP/UDP frame was a `rep stos` per frame.
  union {
    icmp_info icmp;  ///< ICMP/ICMPv6 fields, with the quoted packet of errors: only when l4 == icmp/icmpv6
  };

  constexpr bool ok() const noexcept { return status == parse_status::ok; }
  constexpr bool is_not_ip() const noexcept { return status == parse_status::not_ip; }
  constexpr bool is_malformed() const noexcept { return status == parse_status::malformed; }
  /// A later fragment: parsing stopped at the IP layer because there is no transport header.
  constexpr bool is_later_fragment() const noexcept { return l4 == l4_kind::fragment && frag.is_later(); }
  constexpr bool is_icmp_error() const noexcept {
    return (l4 == l4_kind::icmp || l4 == l4_kind::icmpv6) && icmp.is_error;
  }
  /// Bytes of transport payload present in the frame (payload_length clipped to the captured size).
  constexpr std::uint32_t captured_payload_length(std::size_t frame_size) const noexcept {
    if (payload_offset >= frame_size) return 0;
    std::size_t have = frame_size - payload_offset;
    return have < payload_length ? static_cast<std::uint32_t>(have) : payload_length;
  }
};

}  // namespace strata::packet
