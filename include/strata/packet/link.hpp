// Link layers: which header precedes the IP packet in a captured frame, and how to skip it.
// Ethernet (with any mix of 802.1Q / 802.1ad / QinQ tags), Linux cooked v1 and v2, BSD loopback,
// and raw IP. Per-packet code: no allocation, no exceptions, bounds-checked against the captured size.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <strata/detail/bytes.hpp>
#include <strata/packet/error.hpp>

namespace strata::packet {

/// A capture's link type. The values are the LINKTYPE_ numbers stored in pcap/pcapng files
/// (equal to the DLT_ numbers libpcap reports, except raw IP, which libpcap reports as DLT_RAW = 12:
/// both 12 and 101 are accepted and mean the same). Use `link_type_from_dlt` to normalize.
enum class link_type : std::uint16_t {
  null = 0,          ///< DLT_NULL: BSD loopback, 4-byte address family in the capturing host's byte order
  ethernet = 1,      ///< DLT_EN10MB: Ethernet II (and 802.3), optionally VLAN-tagged
  raw_dlt = 12,      ///< DLT_RAW as libpcap reports it on most platforms: same as `raw`
  raw = 101,         ///< LINKTYPE_RAW: a bare IPv4 or IPv6 packet, version from the first nibble
  loop = 108,        ///< DLT_LOOP: OpenBSD loopback, address family in network byte order
  linux_sll = 113,   ///< Linux cooked capture v1 (tcpdump -i any before libpcap 1.10)
  ipv4 = 228,        ///< a bare IPv4 packet
  ipv6 = 229,        ///< a bare IPv6 packet
  linux_sll2 = 276,  ///< Linux cooked capture v2: adds the interface index
};

/// Maps a DLT number reported by libpcap (`pcap_datalink`) or a LINKTYPE number from a file to
/// `link_type`: 12, 14 (OpenBSD's DLT_RAW) and 101 all become `raw`; other numbers pass through
/// unchanged (unknown ones make `parse` report "unsupported link type").
constexpr link_type link_type_from_dlt(int dlt) noexcept {
  if (dlt == 12 || dlt == 14 || dlt == 101) return link_type::raw;
  return static_cast<link_type>(static_cast<std::uint16_t>(dlt));
}

/// Whether `parse` understands this link type.
constexpr bool is_supported(link_type lt) noexcept {
  switch (lt) {
    case link_type::null:
    case link_type::ethernet:
    case link_type::raw_dlt:
    case link_type::raw:
    case link_type::loop:
    case link_type::linux_sll:
    case link_type::ipv4:
    case link_type::ipv6:
    case link_type::linux_sll2:
      return true;
  }
  return false;
}

/// The link type's short name, as tcpdump prints it ("EN10MB", "LINUX_SLL2"); "unknown" otherwise.
constexpr std::string_view name(link_type lt) noexcept {
  switch (lt) {
    case link_type::null:
      return "NULL";
    case link_type::ethernet:
      return "EN10MB";
    case link_type::raw_dlt:
    case link_type::raw:
      return "RAW";
    case link_type::loop:
      return "LOOP";
    case link_type::linux_sll:
      return "LINUX_SLL";
    case link_type::ipv4:
      return "IPV4";
    case link_type::ipv6:
      return "IPV6";
    case link_type::linux_sll2:
      return "LINUX_SLL2";
  }
  return "unknown";
}

/// Linux cooked captures' packet type: how the kernel saw the frame (PACKET_HOST, ...).
/// Other values the kernel may use are kept as their number.
enum class sll_packet_type : std::uint8_t {
  host = 0,        ///< addressed to this host (received)
  broadcast = 1,   ///< link-layer broadcast (received)
  multicast = 2,   ///< link-layer multicast (received)
  otherhost = 3,   ///< addressed to another host, seen in promiscuous mode (received)
  outgoing = 4,    ///< sent by this host (including forwarded packets leaving it)
  unknown = 0xff,  ///< the link type does not record it (not a Linux cooked capture)
};

/// Ethertypes the link layer dispatches on.
namespace ethertype {
inline constexpr std::uint16_t ipv4 = 0x0800;      ///< IPv4
inline constexpr std::uint16_t arp = 0x0806;       ///< ARP (not IP)
inline constexpr std::uint16_t vlan = 0x8100;      ///< IEEE 802.1Q customer tag
inline constexpr std::uint16_t ipv6 = 0x86dd;      ///< IPv6
inline constexpr std::uint16_t qinq = 0x88a8;      ///< IEEE 802.1ad service tag
inline constexpr std::uint16_t qinq_old = 0x9100;  ///< pre-standard QinQ tag
inline constexpr std::uint16_t lldp = 0x88cc;      ///< LLDP (not IP)
}  // namespace ethertype

/// BSD loopback (DLT_NULL / DLT_LOOP) address families that carry IP.
namespace bsd_af {
inline constexpr std::uint32_t inet = 2;            ///< AF_INET everywhere
inline constexpr std::uint32_t inet6_bsd = 24;      ///< AF_INET6 on NetBSD, OpenBSD, BSD/OS
inline constexpr std::uint32_t inet6_freebsd = 28;  ///< AF_INET6 on FreeBSD, DragonFly
inline constexpr std::uint32_t inet6_darwin = 30;   ///< AF_INET6 on macOS/iOS
}  // namespace bsd_af

/// At most this many VLAN tags are skipped; a frame with more is malformed ("too many VLAN tags").
inline constexpr unsigned max_vlan_tags = 8;

/// What the link-layer header says. Filled for every frame whose link header was readable.
struct link_info {
  link_type type = link_type::ethernet;  ///< the link type the frame was parsed as
  std::uint16_t ethertype = 0;  ///< network protocol after all tags (0x0800, 0x86dd, 0x0806...); synthesized
                                ///< for null/loop/raw links when the payload is IP
  std::uint16_t header_length =
      0;                        ///< bytes of link header including VLAN tags (= offset of the network header)
  std::uint8_t vlan_count = 0;  ///< number of 802.1Q/802.1ad/QinQ tags (any depth up to max_vlan_tags)
  std::array<std::uint16_t, 2>
      vlan_ids{};  ///< 12-bit VLAN ids of the first two tags, outermost first (0 when absent)
  sll_packet_type packet_type =
      sll_packet_type::unknown;  ///< Linux cooked captures: host/broadcast/multicast/otherhost/outgoing
  std::uint16_t arphrd_type =
      0;  ///< Linux cooked captures: ARPHRD_ type of the device (1 = Ethernet); 0 otherwise
  std::uint32_t ifindex = 0;  ///< Linux cooked v2: interface index the frame was seen on; 0 = unknown
  bool has_dst_mac = false;   ///< dst_mac is valid (Ethernet frames)
  bool has_src_mac = false;   ///< src_mac is valid (Ethernet; Linux cooked with a 6-byte link-layer address)
  std::array<std::uint8_t, 6> dst_mac{};  ///< Ethernet destination address
  std::array<std::uint8_t, 6>
      src_mac{};  ///< Ethernet source address (Linux cooked: the recorded link-layer source)

  /// Whether the kernel reported the frame as sent by the capturing host (Linux cooked captures only).
  constexpr bool is_outgoing() const noexcept { return packet_type == sll_packet_type::outgoing; }
};

/// What follows the link header.
enum class link_payload : std::uint8_t {
  ipv4,       ///< an IPv4 packet starts at `link_info::header_length`
  ipv6,       ///< an IPv6 packet starts at `link_info::header_length`
  not_ip,     ///< something else (ARP, LLDP, 802.2 LLC...): not malformed, just not for the IP layers
  malformed,  ///< the link header itself could not be read; see the error
};

namespace detail {

inline constexpr bool is_vlan_tpid(std::uint16_t t) noexcept {
  return t == ethertype::vlan || t == ethertype::qinq || t == ethertype::qinq_old;
}

inline constexpr link_payload from_ethertype(std::uint16_t t) noexcept {
  return t == ethertype::ipv4   ? link_payload::ipv4
         : t == ethertype::ipv6 ? link_payload::ipv6
                                : link_payload::not_ip;
}

// Walks VLAN tags starting at `off` (where an ethertype `type` was just read) and dispatches.
inline link_payload walk_tags(const std::uint8_t* p, std::size_t size, std::size_t off, std::uint16_t type,
                              link_info& out, parse_error& err) noexcept {
  unsigned tags = 0;
  while (is_vlan_tpid(type)) {
    if (tags == max_vlan_tags) {
      err = {"too many VLAN tags", parse_stage::link};
      return link_payload::malformed;
    }
    if (size - off < 4) {
      err = {"truncated VLAN tag", parse_stage::link};
      return link_payload::malformed;
    }
    std::uint16_t tci = strata::detail::load_be16(p + off);
    if (tags < 2) out.vlan_ids[tags] = static_cast<std::uint16_t>(tci & 0x0fff);
    ++tags;
    type = strata::detail::load_be16(p + off + 2);
    off += 4;
  }
  out.vlan_count = static_cast<std::uint8_t>(tags);
  out.ethertype = type;
  out.header_length = static_cast<std::uint16_t>(off);
  return from_ethertype(type);
}

inline link_payload from_bsd_af(const std::uint8_t* p, link_info& out) noexcept {
  // The family is a small number; whichever byte order yields one is the right one.
  std::uint32_t le = strata::detail::load_le32(p);
  std::uint32_t af = (le & 0xffff0000u) == 0 ? le : strata::detail::load_be32(p);
  out.header_length = 4;
  if (af == bsd_af::inet) {
    out.ethertype = ethertype::ipv4;
    return link_payload::ipv4;
  }
  if (af == bsd_af::inet6_bsd || af == bsd_af::inet6_freebsd || af == bsd_af::inet6_darwin) {
    out.ethertype = ethertype::ipv6;
    return link_payload::ipv6;
  }
  return link_payload::not_ip;
}

}  // namespace detail

/// Parses the link header of `frame` (`size` captured bytes). Fills `out` and returns what follows;
/// on `link_payload::malformed`, `err` says why. Never reads past `size`.
inline link_payload parse_link(const std::uint8_t* frame, std::size_t size, link_type lt, link_info& out,
                               parse_error& err) noexcept {
  using strata::detail::load_be16;
  using strata::detail::load_be32;
  out.type = lt;
  switch (lt) {
    case link_type::ethernet: {
      if (size < 14) {
        err = {"truncated Ethernet header", parse_stage::link};
        return link_payload::malformed;
      }
      for (int i = 0; i < 6; ++i) {
        out.dst_mac[static_cast<std::size_t>(i)] = frame[i];
        out.src_mac[static_cast<std::size_t>(i)] = frame[6 + i];
      }
      out.has_dst_mac = true;
      out.has_src_mac = true;
      std::uint16_t type = load_be16(frame + 12);
      if (type < 0x0600) {  // an 802.3 length field: LLC follows, not IP
        out.ethertype = type;
        out.header_length = 14;
        return link_payload::not_ip;
      }
      return detail::walk_tags(frame, size, 14, type, out, err);
    }
    case link_type::linux_sll: {
      // packet type(2) ARPHRD(2) address length(2) address(8) protocol(2)
      if (size < 16) {
        err = {"truncated Linux cooked header", parse_stage::link};
        return link_payload::malformed;
      }
      out.packet_type = static_cast<sll_packet_type>(static_cast<std::uint8_t>(load_be16(frame)));
      out.arphrd_type = load_be16(frame + 2);
      if (load_be16(frame + 4) == 6) {
        for (int i = 0; i < 6; ++i) out.src_mac[static_cast<std::size_t>(i)] = frame[6 + i];
        out.has_src_mac = true;
      }
      if (out.arphrd_type == 824) {  // ARPHRD_NETLINK: the protocol field is a netlink family
        out.header_length = 16;
        return link_payload::not_ip;
      }
      return detail::walk_tags(frame, size, 16, load_be16(frame + 14), out, err);
    }
    case link_type::linux_sll2: {
      // protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1) address length(1) address(8)
      if (size < 20) {
        err = {"truncated Linux cooked v2 header", parse_stage::link};
        return link_payload::malformed;
      }
      out.ifindex = load_be32(frame + 4);
      out.arphrd_type = load_be16(frame + 8);
      out.packet_type = static_cast<sll_packet_type>(frame[10]);
      if (frame[11] == 6) {
        for (int i = 0; i < 6; ++i) out.src_mac[static_cast<std::size_t>(i)] = frame[12 + i];
        out.has_src_mac = true;
      }
      if (out.arphrd_type == 824) {
        out.header_length = 20;
        return link_payload::not_ip;
      }
      return detail::walk_tags(frame, size, 20, load_be16(frame), out, err);
    }
    case link_type::null:
    case link_type::loop: {
      if (size < 4) {
        err = {"truncated loopback header", parse_stage::link};
        return link_payload::malformed;
      }
      return detail::from_bsd_af(frame, out);
    }
    case link_type::raw_dlt:
    case link_type::raw: {
      out.type = link_type::raw;
      if (size < 1) {
        err = {"empty raw IP frame", parse_stage::link};
        return link_payload::malformed;
      }
      unsigned version = frame[0] >> 4;
      if (version == 4) {
        out.ethertype = ethertype::ipv4;
        return link_payload::ipv4;
      }
      if (version == 6) {
        out.ethertype = ethertype::ipv6;
        return link_payload::ipv6;
      }
      err = {"raw IP frame is neither IPv4 nor IPv6", parse_stage::link};
      return link_payload::malformed;
    }
    case link_type::ipv4:
      out.ethertype = ethertype::ipv4;
      return link_payload::ipv4;
    case link_type::ipv6:
      out.ethertype = ethertype::ipv6;
      return link_payload::ipv6;
  }
  err = {"unsupported link type", parse_stage::link};
  return link_payload::malformed;
}

}  // namespace strata::packet
