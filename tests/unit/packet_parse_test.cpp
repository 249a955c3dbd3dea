// strata::packet::parse on hand-built frames (expected values from the RFCs and the link-layer formats,
// never from the parser's own output), on every real capture in shared/captures, and under systematic
// truncation and corruption of real and hand-built packets.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iostream>
#include <map>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include <strata/address.hpp>
#include <strata/packet/parse.hpp>

#if defined(STRATA_HAVE_PCAP)
#include <strata/io/pcap_file.hpp>
#endif

namespace {

using namespace strata::packet;
using strata::address;
using strata::family;
using bytes = std::vector<std::uint8_t>;

// ---------------------------------------------------------------------------------------------------
// Frame building blocks (field layouts from RFC 791, 8200, 9293, 768, 792, 4443, IEEE 802.1Q, and the
// Linux cooked / BSD loopback link-layer header descriptions at tcpdump.org/linktypes).

struct builder {
  bytes v;
  builder& u8(unsigned x) {
    v.push_back(static_cast<std::uint8_t>(x));
    return *this;
  }
  builder& be16(unsigned x) { return u8(x >> 8).u8(x & 0xff); }
  builder& be32(std::uint32_t x) { return be16(x >> 16).be16(x & 0xffff); }
  builder& le32(std::uint32_t x) { return u8(x & 0xff).u8((x >> 8) & 0xff).u8((x >> 16) & 0xff).u8(x >> 24); }
  builder& raw(const bytes& b) {
    v.insert(v.end(), b.begin(), b.end());
    return *this;
  }
  builder& zeros(std::size_t n) {
    v.insert(v.end(), n, 0);
    return *this;
  }
  operator bytes() const { return v; }
};

bytes cat(std::initializer_list<bytes> parts) {
  bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

address v4(const char* s) { return *strata::parse_address(s, family::v4); }
address v6(const char* s) { return *strata::parse_address(s, family::v6); }
bytes v6bytes(const char* s) {
  auto a = v6(s).v6_bytes();
  return bytes(a.begin(), a.end());
}

const bytes mac_a = {0x02, 0x00, 0x00, 0x00, 0x00, 0x0a};
const bytes mac_b = {0x02, 0x00, 0x00, 0x00, 0x00, 0x0b};

bytes ethernet(std::uint16_t type) { return builder{}.raw(mac_a).raw(mac_b).be16(type); }
// An 802.1Q/802.1ad tag body: TCI (PCP, DEI, VID) then the next type; the TPID is the preceding type field.
bytes vlan_tag(std::uint16_t tci, std::uint16_t next) { return builder{}.be16(tci).be16(next); }

// IPv4 header (RFC 791 §3.1). `payload` is the number of bytes that follow the header.
bytes ipv4(std::uint8_t proto, const char* src, const char* dst, std::size_t payload,
           const bytes& options = {}, std::uint16_t id = 0x1234, std::uint16_t flags_frag = 0x4000 /* DF */,
           std::uint8_t ttl = 64) {
  std::size_t hl = 20 + options.size();
  builder b;
  b.u8(0x40 | static_cast<unsigned>(hl / 4))
      .u8(0)
      .be16(static_cast<unsigned>(hl + payload))
      .be16(id)
      .be16(flags_frag);
  b.u8(ttl).u8(proto).be16(0).be32(v4(src).v4()).be32(v4(dst).v4()).raw(options);
  return b;
}

// IPv6 fixed header (RFC 8200 §3).
bytes ipv6(std::uint8_t next, std::size_t payload, const char* src, const char* dst, std::uint8_t hop = 64) {
  return builder{}
      .be32(0x60000000)
      .be16(static_cast<unsigned>(payload))
      .u8(next)
      .u8(hop)
      .raw(v6bytes(src))
      .raw(v6bytes(dst));
}
// A generic extension header (RFC 8200 §4.3-4.6): next header, length in 8-octet units not counting the
// first.
bytes ext(std::uint8_t next, std::uint8_t len_units) {
  builder b;
  b.u8(next).u8(len_units);
  // PadN option filling the rest (valid option encoding for HBH/DestOpts).
  std::size_t rest = (std::size_t{len_units} + 1) * 8 - 2;
  b.u8(1).u8(static_cast<unsigned>(rest - 2)).zeros(rest - 2);
  return b;
}
// Fragment header (RFC 8200 §4.5): offset in bytes (multiple of 8), M flag, identification.
bytes frag6(std::uint8_t next, std::uint16_t offset, bool more, std::uint32_t id) {
  return builder{}.u8(next).u8(0).be16(static_cast<unsigned>(offset | (more ? 1 : 0))).be32(id);
}
// Authentication header (RFC 4302 §2): payload length in 4-octet units minus 2.
bytes ah(std::uint8_t next, std::uint8_t len_field) {
  builder b;
  b.u8(next).u8(len_field).be16(0).be32(0x100).be32(1);
  b.zeros((std::size_t{len_field} + 2) * 4 - 12);
  return b;
}

// TCP header (RFC 9293 §3.1).
bytes tcp(std::uint16_t sport, std::uint16_t dport, std::uint32_t seq, std::uint32_t ack, std::uint8_t flags,
          const bytes& options = {}, std::uint16_t window = 64240) {
  std::size_t hl = 20 + options.size();
  return builder{}
      .be16(sport)
      .be16(dport)
      .be32(seq)
      .be32(ack)
      .u8(static_cast<unsigned>((hl / 4) << 4))
      .u8(flags)
      .be16(window)
      .be16(0)
      .be16(0)
      .raw(options);
}
// UDP header (RFC 768), length covering header and payload.
bytes udp(std::uint16_t sport, std::uint16_t dport, std::size_t payload) {
  return builder{}.be16(sport).be16(dport).be16(static_cast<unsigned>(8 + payload)).be16(0);
}
// ICMP / ICMPv6 header: type, code, checksum, 4 bytes of rest.
bytes icmp(std::uint8_t type, std::uint8_t code, std::uint32_t rest) {
  return builder{}.u8(type).u8(code).be16(0).be32(rest);
}

// Parses `f` from an exact-size heap copy, so that AddressSanitizer sees any read past its end.
parsed P(const bytes& f, link_type lt = link_type::ethernet, std::size_t wire = 0) {
  std::unique_ptr<std::uint8_t[]> copy(f.empty() ? nullptr : new std::uint8_t[f.size()]);
  if (!f.empty()) std::memcpy(copy.get(), f.data(), f.size());
  return parse(std::as_bytes(std::span<const std::uint8_t>(copy.get(), f.size())), lt, wire);
}

std::string describe(const parsed& r) {
  std::ostringstream o;
  o << "status=" << static_cast<int>(r.status) << " stage=" << name(r.stage) << " reason='"
    << r.malformed.reason << "' l4=" << static_cast<int>(r.l4);
  return o.str();
}

// Structural invariants every result satisfies, whatever the input.
void expect_consistent(const parsed& r, std::size_t n, const std::string& ctx) {
  SCOPED_TRACE(ctx + " " + describe(r));
  if (r.is_malformed()) {
    EXPECT_FALSE(r.malformed.reason.empty());
    EXPECT_EQ(r.malformed.stage, r.stage);
    return;
  }
  EXPECT_TRUE(r.malformed.reason.empty());
  if (r.is_not_ip()) {
    EXPECT_EQ(r.fam, family::none);
    EXPECT_LE(r.link.header_length, n);
    return;
  }
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r.fam == family::v4 || r.fam == family::v6);
  const std::size_t min_ip = r.fam == family::v4 ? 20 : 40;
  EXPECT_EQ(r.l3_offset, r.link.header_length);
  EXPECT_LE(r.l3_offset + min_ip, n);
  EXPECT_GE(r.l4_offset, r.l3_offset + min_ip);
  EXPECT_EQ(r.l4_offset - r.l3_offset, r.ip_header_length);
  EXPECT_EQ(r.ip_end - r.l3_offset, r.ip_total_length);
  EXPECT_LE(r.l4_offset, r.ip_end);
  EXPECT_LE(r.l4_offset, n);
  EXPECT_GE(r.payload_offset, r.l4_offset);
  EXPECT_LE(r.payload_offset, r.ip_end);
  EXPECT_LE(std::size_t{r.payload_offset} + r.payload_length, r.ip_end);
  EXPECT_EQ(r.captured_truncated, r.ip_end > n);
  switch (r.l4) {
    case l4_kind::tcp:
      EXPECT_GE(r.tcp.header_length, 20);
      EXPECT_EQ(r.payload_offset, r.l4_offset + r.tcp.header_length);
      EXPECT_LE(r.payload_offset, n);
      break;
    case l4_kind::udp:
    case l4_kind::icmp:
    case l4_kind::icmpv6:
      EXPECT_EQ(r.payload_offset, r.l4_offset + 8);
      EXPECT_LE(r.payload_offset, n);
      break;
    default:
      EXPECT_EQ(r.payload_offset, r.l4_offset);
      EXPECT_EQ(r.src_port, 0);
      EXPECT_EQ(r.dst_port, 0);
  }
  if (r.is_icmp_error()) {
    const auto& e = r.icmp.embedded;
    EXPECT_NE(e.status, embedded_status::none);
    EXPECT_EQ(e.offset, r.l4_offset + 8);
    EXPECT_LE(e.transport_length, 8);
    if (e.status == embedded_status::complete) {
      EXPECT_TRUE(e.problem.empty());
    } else {
      EXPECT_FALSE(e.problem.empty());
    }
    if (e.fam != family::none) {
      EXPECT_LE(e.offset + (e.fam == family::v4 ? 20u : 40u), n);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Hand-built frames

TEST(PacketParse, EthernetIpv4TcpSynWithOptions) {
  // MSS 1460 (kind 2, len 4), NOP, window scale 7 (kind 3, len 3) → 8 bytes of options, data offset 7.
  bytes opts = {2, 4, 0x05, 0xb4, 1, 3, 3, 7};
  bytes seg = tcp(40980, 8080, 0x01020304, 0, tcp_flag::syn, opts);
  bytes f = cat({ethernet(0x0800), ipv4(6, "10.0.0.1", "10.0.0.2", seg.size(), {}, 0xbeef, 0x4000, 63), seg});
  auto r = P(f);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.link.type, link_type::ethernet);
  EXPECT_EQ(r.link.ethertype, 0x0800);
  EXPECT_EQ(r.link.header_length, 14);
  EXPECT_TRUE(r.link.has_dst_mac);
  EXPECT_EQ(r.link.dst_mac[5], 0x0a);
  EXPECT_EQ(r.link.src_mac[5], 0x0b);
  EXPECT_EQ(r.link.vlan_count, 0);
  EXPECT_EQ(r.link.packet_type, sll_packet_type::unknown);
  EXPECT_EQ(r.fam, family::v4);
  EXPECT_EQ(r.src, v4("10.0.0.1"));
  EXPECT_EQ(r.dst, v4("10.0.0.2"));
  EXPECT_EQ(r.src.v4(), 0x0a000001u);  // host order, as WFP's UINT32
  EXPECT_EQ(r.protocol, 6);
  EXPECT_EQ(r.ttl, 63);
  EXPECT_EQ(r.ip_header_length, 20);
  EXPECT_EQ(r.ip_total_length, 20u + 28u);
  EXPECT_EQ(r.frag.id, 0xbeefu);
  EXPECT_TRUE(r.frag.dont_fragment);
  EXPECT_FALSE(r.frag.is_fragment());
  EXPECT_EQ(r.l3_offset, 14u);
  EXPECT_EQ(r.l4_offset, 34u);
  EXPECT_EQ(r.l4, l4_kind::tcp);
  EXPECT_EQ(r.stage, parse_stage::tcp);
  EXPECT_EQ(r.src_port, 40980);
  EXPECT_EQ(r.dst_port, 8080);
  EXPECT_EQ(r.tcp.seq, 0x01020304u);
  EXPECT_EQ(r.tcp.ack, 0u);
  EXPECT_EQ(r.tcp.flags, 0x02);
  EXPECT_TRUE(r.tcp.is_syn());
  EXPECT_FALSE(r.tcp.is_syn_ack());
  EXPECT_EQ(r.tcp.header_length, 28);
  EXPECT_EQ(r.tcp.window, 64240);
  EXPECT_EQ(r.payload_offset, 34u + 28u);
  EXPECT_EQ(r.payload_length, 0u);
  EXPECT_FALSE(r.captured_truncated);
  expect_consistent(r, f.size(), "syn");
}

TEST(PacketParse, TcpPayloadAndFlags) {
  bytes data(100, 0x41);
  bytes seg = tcp(80, 51000, 1000, 2000, tcp_flag::psh | tcp_flag::ack);
  bytes f =
      cat({ethernet(0x0800), ipv4(6, "192.0.2.1", "198.51.100.7", seg.size() + data.size()), seg, data});
  auto r = P(f);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.tcp.flags, 0x18);
  EXPECT_TRUE(r.tcp.has(tcp_flag::ack));
  EXPECT_EQ(r.tcp.ack, 2000u);
  EXPECT_EQ(r.payload_length, 100u);
  auto pl = payload(std::as_bytes(std::span(f)), r);
  ASSERT_EQ(pl.size(), 100u);
  EXPECT_EQ(std::to_integer<int>(pl[0]), 0x41);
  auto ip = ip_packet(std::as_bytes(std::span(f)), r);
  EXPECT_EQ(ip.size(), 20u + 20u + 100u);
}

TEST(PacketParse, EthernetPaddingIsTrimmedByIpv4TotalLength) {
  // A UDP datagram with no payload: 14 + 20 + 8 = 42 bytes, padded to the 60-byte minimum frame.
  bytes f = cat({ethernet(0x0800), ipv4(17, "10.1.1.1", "10.1.1.2", 8), udp(5353, 53, 0)});
  f.resize(60, 0);
  auto r = P(f);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.ip_total_length, 28u);
  EXPECT_EQ(r.ip_end, 42u);
  EXPECT_EQ(r.payload_length, 0u);
  EXPECT_EQ(r.l4, l4_kind::udp);
  EXPECT_EQ(r.src_port, 5353);
  EXPECT_EQ(r.dst_port, 53);
  EXPECT_EQ(payload(std::as_bytes(std::span(f)), r).size(), 0u);
  EXPECT_EQ(ip_packet(std::as_bytes(std::span(f)), r).size(), 28u);
}

TEST(PacketParse, Ipv4OptionsAreSkippedAndValidated) {
  // Router alert (RFC 2113): type 0x94, length 4, value 0. IHL 6.
  bytes ra = {0x94, 0x04, 0x00, 0x00};
  bytes f = cat({ethernet(0x0800), ipv4(17, "10.0.0.1", "224.0.0.22", 8, ra), udp(1, 2, 0)});
  auto r = P(f);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.ipv4_options_length, 4);
  EXPECT_EQ(r.ip_header_length, 24);
  EXPECT_EQ(r.l4_offset, 14u + 24u);
  EXPECT_EQ(r.src_port, 1);

  // NOP, NOP, EOL, padding: valid.
  bytes nops = {0x01, 0x01, 0x00, 0x00};
  EXPECT_TRUE(P(cat({ethernet(0x0800), ipv4(17, "10.0.0.1", "10.0.0.2", 8, nops), udp(1, 2, 0)})).ok());

  // An option whose length runs past the header, and one with length < 2.
  for (bytes bad : {bytes{0x94, 0x08, 0, 0}, bytes{0x07, 0x01, 0, 0}, bytes{0x01, 0x01, 0x01, 0x83}}) {
    auto m = P(cat({ethernet(0x0800), ipv4(17, "10.0.0.1", "10.0.0.2", 8, bad), udp(1, 2, 0)}));
    EXPECT_TRUE(m.is_malformed());
    EXPECT_EQ(m.malformed.reason, "IPv4 option length invalid");
    EXPECT_EQ(m.malformed.stage, parse_stage::ipv4);
  }
}

TEST(PacketParse, Ipv4Fragments) {
  // First fragment: MF set, offset 0, holds the UDP header of a 3000-byte datagram.
  bytes first_payload(1472, 0);
  bytes first =
      cat({ethernet(0x0800), ipv4(17, "10.0.0.1", "10.0.0.2", 8 + first_payload.size(), {}, 0x0abc, 0x2000),
           udp(4000, 5000, 3000 - 8), first_payload});
  auto r = P(first);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.l4, l4_kind::udp);  // the UDP length (3000) exceeds this fragment: fine for a first fragment
  EXPECT_EQ(r.src_port, 4000);
  EXPECT_TRUE(r.frag.more);
  EXPECT_EQ(r.frag.offset, 0);
  EXPECT_EQ(r.frag.id, 0x0abcu);
  EXPECT_TRUE(r.frag.is_fragment());
  EXPECT_TRUE(r.frag.has_header);
  EXPECT_FALSE(r.frag.dont_fragment);
  EXPECT_EQ(r.frag.data_offset, 34u);
  EXPECT_EQ(r.payload_length, 1472u);
  EXPECT_FALSE(r.is_later_fragment());

  // Second fragment: offset field 185 (1480 bytes), MF clear: no transport header, not malformed.
  bytes rest(1520, 0x55);
  bytes later = cat({ethernet(0x0800), ipv4(17, "10.0.0.1", "10.0.0.2", rest.size(), {}, 0x0abc, 185), rest});
  auto l = P(later);
  ASSERT_TRUE(l.ok()) << describe(l);
  EXPECT_EQ(l.l4, l4_kind::fragment);
  EXPECT_TRUE(l.is_later_fragment());
  EXPECT_EQ(l.frag.offset, 1480);
  EXPECT_FALSE(l.frag.more);
  EXPECT_EQ(l.protocol, 17);
  EXPECT_EQ(l.src_port, 0);
  EXPECT_EQ(l.stage, parse_stage::ipv4);
  EXPECT_EQ(l.payload_offset, 34u);
  EXPECT_EQ(l.payload_length, 1520u);

  // A tiny first fragment holding only 8 bytes of a TCP header (RFC 1858): left to reassembly.
  bytes tiny = cat({ethernet(0x0800), ipv4(6, "10.0.0.1", "10.0.0.2", 8, {}, 7, 0x2000),
                    builder{}.be16(1).be16(2).be32(3)});
  auto t = P(tiny);
  ASSERT_TRUE(t.ok()) << describe(t);
  EXPECT_EQ(t.l4, l4_kind::fragment);
  EXPECT_FALSE(t.is_later_fragment());
  EXPECT_EQ(t.protocol, 6);
}

TEST(PacketParse, VlanTags) {
  bytes ipudp = cat({ipv4(17, "10.0.0.1", "10.0.0.2", 8), udp(1, 2, 0)});
  // One 802.1Q tag, PCP 5 and VID 100.
  auto one = P(cat({ethernet(0x8100), vlan_tag((5u << 13) | 100u, 0x0800), ipudp}));
  ASSERT_TRUE(one.ok()) << describe(one);
  EXPECT_EQ(one.link.vlan_count, 1);
  EXPECT_EQ(one.link.vlan_ids[0], 100);
  EXPECT_EQ(one.link.vlan_ids[1], 0);
  EXPECT_EQ(one.link.header_length, 18);
  EXPECT_EQ(one.l3_offset, 18u);
  EXPECT_EQ(one.link.ethertype, 0x0800);

  // 802.1ad service tag 10 then 802.1Q customer tag 20.
  auto qinq = P(cat({ethernet(0x88a8), vlan_tag(10, 0x8100), vlan_tag(20, 0x0800), ipudp}));
  ASSERT_TRUE(qinq.ok());
  EXPECT_EQ(qinq.link.vlan_count, 2);
  EXPECT_EQ(qinq.link.vlan_ids[0], 10);
  EXPECT_EQ(qinq.link.vlan_ids[1], 20);
  EXPECT_EQ(qinq.l3_offset, 22u);

  // Pre-standard 0x9100, three deep: the first two ids are kept, all three are counted.
  auto three = P(cat({ethernet(0x9100), vlan_tag(1, 0x9100), vlan_tag(2, 0x8100), vlan_tag(4095, 0x86dd),
                      ipv6(59, 0, "fe80::1", "fe80::2")}));
  ASSERT_TRUE(three.ok()) << describe(three);
  EXPECT_EQ(three.link.vlan_count, 3);
  EXPECT_EQ(three.link.vlan_ids[0], 1);
  EXPECT_EQ(three.link.vlan_ids[1], 2);
  EXPECT_EQ(three.fam, family::v6);
  EXPECT_EQ(three.l4, l4_kind::none);
  EXPECT_EQ(three.protocol, 59);

  // max_vlan_tags tags are fine; one more is malformed.
  auto stack = [&](unsigned n) {
    bytes f = ethernet(0x8100);
    for (unsigned i = 0; i < n; ++i)
      f = cat({f, vlan_tag(static_cast<std::uint16_t>(i + 1), i + 1 < n ? 0x8100 : 0x0800)});
    return cat({f, ipudp});
  };
  EXPECT_TRUE(P(stack(max_vlan_tags)).ok());
  auto deep = P(stack(max_vlan_tags + 1));
  EXPECT_TRUE(deep.is_malformed());
  EXPECT_EQ(deep.malformed.reason, "too many VLAN tags");
  EXPECT_EQ(deep.malformed.stage, parse_stage::link);

  // A tag cut short.
  bytes cut = ethernet(0x8100);
  cut.push_back(0);
  cut.push_back(5);
  auto c = P(cut);
  EXPECT_EQ(c.malformed.reason, "truncated VLAN tag");

  // A VLAN-tagged ARP frame is not IP, but the tag is still recorded.
  auto arp = P(cat({ethernet(0x8100), vlan_tag(7, 0x0806), bytes(28, 0)}));
  EXPECT_TRUE(arp.is_not_ip());
  EXPECT_EQ(arp.link.vlan_ids[0], 7);
}

TEST(PacketParse, NonIpFramesAreNotIp) {
  auto arp = P(cat({ethernet(0x0806), bytes(28, 0)}));
  EXPECT_EQ(arp.status, parse_status::not_ip);
  EXPECT_EQ(arp.link.ethertype, 0x0806);
  EXPECT_TRUE(arp.malformed.reason.empty());
  EXPECT_EQ(P(cat({ethernet(0x88cc), bytes(40, 0)})).status, parse_status::not_ip);  // LLDP
  // IEEE 802.3 with an LLC header: the type field is a length (< 0x0600).
  auto llc = P(cat({ethernet(38), bytes{0x42, 0x42, 0x03}, bytes(35, 0)}));
  EXPECT_EQ(llc.status, parse_status::not_ip);
  // Even a truncated ARP payload is only "not IP": its contents are never read.
  EXPECT_EQ(P(ethernet(0x0806)).status, parse_status::not_ip);
  // A frame too short for the Ethernet header is malformed.
  auto shortf = P(bytes(13, 0));
  EXPECT_EQ(shortf.malformed.reason, "truncated Ethernet header");
  EXPECT_EQ(shortf.stage, parse_stage::link);
  EXPECT_EQ(P(bytes{}).malformed.reason, "truncated Ethernet header");
}

TEST(PacketParse, LinuxCookedV1) {
  // SLL: packet type 4 (outgoing), ARPHRD_ETHER 1, address length 6, address + 2 pad, protocol 0x0800.
  bytes sll = builder{}.be16(4).be16(1).be16(6).raw(mac_b).zeros(2).be16(0x0800);
  bytes echo = icmp(8, 0, (0x1234u << 16) | 7u);
  bytes f = cat({sll, ipv4(1, "10.0.0.2", "10.0.0.9", echo.size()), echo});
  auto r = P(f, link_type::linux_sll);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.link.type, link_type::linux_sll);
  EXPECT_EQ(r.link.packet_type, sll_packet_type::outgoing);
  EXPECT_TRUE(r.link.is_outgoing());
  EXPECT_EQ(r.link.arphrd_type, 1);
  EXPECT_TRUE(r.link.has_src_mac);
  EXPECT_FALSE(r.link.has_dst_mac);
  EXPECT_EQ(r.link.src_mac[5], 0x0b);
  EXPECT_EQ(r.link.ifindex, 0u);
  EXPECT_EQ(r.l3_offset, 16u);
  EXPECT_EQ(r.l4, l4_kind::icmp);
  EXPECT_EQ(r.icmp.type, 8);
  EXPECT_TRUE(r.icmp.has_id);
  EXPECT_EQ(r.icmp.id, 0x1234);
  EXPECT_EQ(r.icmp.seq, 7);
  EXPECT_FALSE(r.is_icmp_error());

  for (unsigned type : {0u, 1u, 2u, 3u}) {
    bytes s = builder{}.be16(type).be16(1).be16(6).raw(mac_b).zeros(2).be16(0x0800);
    EXPECT_EQ(static_cast<unsigned>(
                  P(cat({s, ipv4(17, "10.0.0.1", "10.0.0.2", 8), udp(1, 2, 0)}), link_type::linux_sll)
                      .link.packet_type),
              type);
  }
  EXPECT_EQ(P(bytes(15, 0), link_type::linux_sll).malformed.reason, "truncated Linux cooked header");
  // Netlink (ARPHRD_NETLINK 824) frames carry no IP.
  bytes nl = builder{}.be16(4).be16(824).be16(0).zeros(8).be16(0x0800);
  EXPECT_TRUE(P(cat({nl, bytes(20, 0)}), link_type::linux_sll).is_not_ip());
}

TEST(PacketParse, LinuxCookedV2KeepsInterfaceIndexAndDirection) {
  // SLL2: protocol 0x86dd, reserved, ifindex 7, ARPHRD_ETHER, packet type 0 (host), address length 6,
  // address.
  bytes sll2 = builder{}.be16(0x86dd).be16(0).be32(7).be16(1).u8(0).u8(6).raw(mac_a).zeros(2);
  bytes seg = udp(546, 547, 4);
  bytes f = cat({sll2, ipv6(17, seg.size() + 4, "fe80::1", "ff02::1:2", 1), seg, bytes(4, 0)});
  auto r = P(f, link_type::linux_sll2);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.link.ifindex, 7u);
  EXPECT_EQ(r.link.packet_type, sll_packet_type::host);
  EXPECT_FALSE(r.link.is_outgoing());
  EXPECT_EQ(r.l3_offset, 20u);
  EXPECT_EQ(r.fam, family::v6);
  EXPECT_EQ(r.src, v6("fe80::1"));
  EXPECT_EQ(r.dst, v6("ff02::1:2"));
  EXPECT_EQ(r.ttl, 1);
  EXPECT_EQ(r.src_port, 546);
  EXPECT_EQ(r.payload_length, 4u);

  bytes out = builder{}.be16(0x0800).be16(0).be32(3).be16(1).u8(4).u8(6).raw(mac_a).zeros(2);
  auto o = P(cat({out, ipv4(17, "10.0.0.1", "10.0.1.1", 8), udp(1, 2, 0)}), link_type::linux_sll2);
  EXPECT_TRUE(o.link.is_outgoing());
  EXPECT_EQ(o.link.ifindex, 3u);
  EXPECT_EQ(P(bytes(19, 0), link_type::linux_sll2).malformed.reason, "truncated Linux cooked v2 header");
}

TEST(PacketParse, BsdLoopbackInEitherByteOrder) {
  bytes ip4 = cat({ipv4(17, "127.0.0.1", "127.0.0.1", 8), udp(1, 2, 0)});
  bytes ip6 = cat({ipv6(17, 8, "::1", "::1"), udp(1, 2, 0)});
  for (link_type lt : {link_type::null, link_type::loop}) {
    auto le = P(cat({builder{}.le32(2), ip4}), lt);
    ASSERT_TRUE(le.ok()) << describe(le);
    EXPECT_EQ(le.fam, family::v4);
    EXPECT_EQ(le.l3_offset, 4u);
    auto be = P(cat({builder{}.be32(2), ip4}), lt);
    EXPECT_EQ(be.fam, family::v4);
    for (std::uint32_t af : {24u, 28u, 30u}) {
      EXPECT_EQ(P(cat({builder{}.le32(af), ip6}), lt).fam, family::v6) << af;
      EXPECT_EQ(P(cat({builder{}.be32(af), ip6}), lt).fam, family::v6) << af;
    }
    EXPECT_TRUE(P(cat({builder{}.le32(7), ip4}), lt).is_not_ip());  // AF 7: not IP
    EXPECT_EQ(P(bytes{2, 0, 0}, lt).malformed.reason, "truncated loopback header");
  }
}

TEST(PacketParse, RawIpLinkTypes) {
  bytes ip4 = cat({ipv4(17, "10.0.0.1", "10.0.0.2", 8), udp(1, 2, 0)});
  bytes ip6 = cat({ipv6(17, 8, "2001:db8::1", "2001:db8::2"), udp(1, 2, 0)});
  for (link_type lt : {link_type::raw, link_type::raw_dlt, link_type_from_dlt(12), link_type_from_dlt(101)}) {
    auto a = P(ip4, lt);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a.link.type, link_type::raw);
    EXPECT_EQ(a.l3_offset, 0u);
    EXPECT_EQ(a.link.ethertype, 0x0800);
    EXPECT_EQ(P(ip6, lt).fam, family::v6);
    auto bad = P(bytes{0x50, 0, 0, 0}, lt);
    EXPECT_EQ(bad.malformed.reason, "raw IP frame is neither IPv4 nor IPv6");
    EXPECT_EQ(P(bytes{}, lt).malformed.stage, parse_stage::link);
  }
  EXPECT_EQ(link_type_from_dlt(14), link_type::raw);
  EXPECT_TRUE(P(ip4, link_type::ipv4).ok());
  EXPECT_TRUE(P(ip6, link_type::ipv6).ok());
  // The IPV4 link type promises IPv4: an IPv6 packet there is malformed at the IPv4 header.
  auto wrong = P(ip6, link_type::ipv4);
  EXPECT_EQ(wrong.malformed.reason, "IPv4 version is not 4");
  EXPECT_EQ(P(ip4, link_type::ipv6).malformed.reason, "truncated IPv6 header");
  EXPECT_EQ(parse_ip(std::as_bytes(std::span(ip4))).src_port, 1);
  // A link type the parser does not know (IEEE 802.11 = 105).
  auto unk = P(ip4, static_cast<link_type>(105));
  EXPECT_EQ(unk.malformed.reason, "unsupported link type");
  EXPECT_FALSE(is_supported(static_cast<link_type>(105)));
  EXPECT_EQ(name(link_type::linux_sll2), "LINUX_SLL2");
}

TEST(PacketParse, Ipv6ExtensionHeaderChain) {
  // HBH (8 bytes) → DestOpts (16) → Routing (24) → Fragment (8, offset 0, M) → AH (len field 4: 24 bytes) →
  // TCP.
  bytes seg = tcp(443, 50000, 1, 2, tcp_flag::ack);
  bytes chain = cat({ext(60, 0), ext(43, 1), ext(44, 2), frag6(51, 0, true, 0xdeadbeef), ah(6, 4)});
  ASSERT_EQ(chain.size(), 8u + 16u + 24u + 8u + 24u);
  bytes f = cat(
      {ethernet(0x86dd), ipv6(0, chain.size() + seg.size(), "2001:db8::a", "2001:db8::b", 255), chain, seg});
  auto r = P(f);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.protocol, 6);
  EXPECT_EQ(r.ipv6_extension_count, 5);
  EXPECT_EQ(r.ttl, 255);
  EXPECT_EQ(r.l3_offset, 14u);
  EXPECT_EQ(r.ip_header_length, 40u + 80u);
  EXPECT_EQ(r.l4_offset, 14u + 40u + 80u);
  EXPECT_EQ(r.ip_total_length, 40u + 80u + 20u);
  EXPECT_TRUE(r.frag.has_header);
  EXPECT_TRUE(r.frag.more);
  EXPECT_EQ(r.frag.offset, 0);
  EXPECT_EQ(r.frag.id, 0xdeadbeefu);
  EXPECT_EQ(r.frag.header_offset, 14u + 40u + 48u);
  EXPECT_EQ(r.frag.data_offset, 14u + 40u + 56u);
  EXPECT_EQ(r.l4, l4_kind::tcp);
  EXPECT_EQ(r.src_port, 443);

  // ESP ends the walk: the rest is encrypted.
  auto esp =
      P(cat({ethernet(0x86dd), ipv6(60, 8 + 16, "2001:db8::a", "2001:db8::b"), ext(50, 0), bytes(16, 0xee)}));
  ASSERT_TRUE(esp.ok());
  EXPECT_EQ(esp.protocol, 50);
  EXPECT_EQ(esp.l4, l4_kind::other);
  EXPECT_EQ(esp.ipv6_extension_count, 1);
  EXPECT_EQ(esp.payload_length, 16u);

  // No next header (59): nothing follows, not malformed.
  auto none = P(cat({ethernet(0x86dd), ipv6(0, 8, "2001:db8::a", "2001:db8::b"), ext(59, 0)}));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none.l4, l4_kind::none);
  EXPECT_EQ(none.protocol, 59);

  // An atomic fragment (offset 0, M 0; RFC 6946): has a header, is not a fragment.
  auto atomic = P(cat({ethernet(0x86dd), ipv6(44, 8 + 8, "2001:db8::a", "2001:db8::b"),
                       frag6(17, 0, false, 9), udp(7, 8, 0)}));
  ASSERT_TRUE(atomic.ok());
  EXPECT_TRUE(atomic.frag.has_header);
  EXPECT_FALSE(atomic.frag.is_fragment());
  EXPECT_EQ(atomic.l4, l4_kind::udp);
}

TEST(PacketParse, Ipv6ExtensionChainBounds) {
  auto chain_of = [](unsigned n) {
    bytes c;
    for (unsigned i = 0; i < n; ++i) c = cat({c, ext(i + 1 < n ? 60 : 17, 0)});
    return cat({ethernet(0x86dd), ipv6(60, c.size() + 8, "2001:db8::1", "2001:db8::2"), c, udp(1, 2, 0)});
  };
  auto ok16 = P(chain_of(max_ipv6_extension_headers));
  ASSERT_TRUE(ok16.ok()) << describe(ok16);
  EXPECT_EQ(ok16.ipv6_extension_count, max_ipv6_extension_headers);
  EXPECT_EQ(ok16.l4, l4_kind::udp);
  auto long17 = P(chain_of(max_ipv6_extension_headers + 1));
  EXPECT_TRUE(long17.is_malformed());
  EXPECT_EQ(long17.malformed.reason, "IPv6 extension header chain too long");
  EXPECT_EQ(long17.malformed.stage, parse_stage::ipv6_extension);

  // Hop-by-hop anywhere but first (RFC 8200 §4.1).
  auto hbh = P(cat(
      {ethernet(0x86dd), ipv6(60, 24, "2001:db8::1", "2001:db8::2"), ext(0, 0), ext(17, 0), udp(1, 2, 0)}));
  EXPECT_EQ(hbh.malformed.reason, "IPv6 hop-by-hop header not first");
  // Two fragment headers.
  auto dup = P(cat({ethernet(0x86dd), ipv6(44, 24, "2001:db8::1", "2001:db8::2"), frag6(44, 0, false, 1),
                    frag6(17, 0, false, 2), udp(1, 2, 0)}));
  EXPECT_EQ(dup.malformed.reason, "IPv6 duplicate fragment header");
  // An extension header longer than the payload length says.
  auto over = P(cat({ethernet(0x86dd), ipv6(60, 8, "2001:db8::1", "2001:db8::2"), ext(59, 1)}));
  EXPECT_EQ(over.malformed.reason, "IPv6 extension header exceeds payload length");
  // Payload length longer than the frame.
  auto longer = P(cat({ethernet(0x86dd), ipv6(59, 100, "2001:db8::1", "2001:db8::2")}));
  EXPECT_EQ(longer.malformed.reason, "IPv6 payload length exceeds frame");
  EXPECT_EQ(longer.malformed.stage, parse_stage::ipv6);
  // Truncated fixed header and wrong version.
  EXPECT_EQ(P(cat({ethernet(0x86dd), bytes(39, 0x60)})).malformed.reason, "truncated IPv6 header");
  EXPECT_EQ(P(cat({ethernet(0x86dd), ipv4(59, "10.0.0.1", "10.0.0.2", 20), bytes(20, 0)})).malformed.reason,
            "IPv6 version is not 6");
}

TEST(PacketParse, Ipv6LaterFragmentStopsAtTheFragmentHeader) {
  bytes data(64, 0x11);
  bytes f = cat({ethernet(0x86dd), ipv6(0, 8 + 8 + data.size(), "2001:db8::1", "2001:db8::2"), ext(44, 0),
                 frag6(6, 1448, false, 0x01020304), data});
  auto r = P(f);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.l4, l4_kind::fragment);
  EXPECT_TRUE(r.is_later_fragment());
  EXPECT_EQ(r.protocol, 6);
  EXPECT_EQ(r.frag.offset, 1448);
  EXPECT_FALSE(r.frag.more);
  EXPECT_EQ(r.frag.id, 0x01020304u);
  EXPECT_EQ(r.l4_offset, 14u + 40u + 16u);
  EXPECT_EQ(r.payload_length, 64u);
  EXPECT_EQ(r.src_port, 0);
  EXPECT_EQ(r.stage, parse_stage::ipv6_extension);

  // A first fragment whose own payload ends inside the header chain: left to reassembly.
  bytes cutchain = cat(
      {ethernet(0x86dd), ipv6(44, 8 + 8, "2001:db8::1", "2001:db8::2"), frag6(60, 0, true, 5), bytes(8, 0)});
  cutchain[14 + 40 + 8 + 1] = 3;  // destination options claiming 32 bytes in an 8-byte fragment
  auto c = P(cutchain);
  ASSERT_TRUE(c.ok()) << describe(c);
  EXPECT_EQ(c.l4, l4_kind::fragment);
  EXPECT_FALSE(c.is_later_fragment());
}

TEST(PacketParse, IcmpEchoAndIcmpv6Echo) {
  bytes e4 = cat({icmp(0, 0, (77u << 16) | 3u), bytes(56, 0)});
  auto r = P(cat({ethernet(0x0800), ipv4(1, "10.0.0.2", "10.0.0.1", e4.size()), e4}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.l4, l4_kind::icmp);
  EXPECT_EQ(r.stage, parse_stage::icmp);
  EXPECT_EQ(r.icmp.type, 0);
  EXPECT_EQ(r.icmp.id, 77);
  EXPECT_EQ(r.icmp.seq, 3);
  EXPECT_EQ(r.payload_length, 56u);
  EXPECT_EQ(r.src_port, 0);

  bytes e6 = icmp(128, 0, (0xabcdu << 16) | 0x10u);
  auto s = P(cat({ethernet(0x86dd), ipv6(58, e6.size(), "2001:db8::1", "2001:db8::2"), e6}));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.l4, l4_kind::icmpv6);
  EXPECT_EQ(s.stage, parse_stage::icmpv6);
  EXPECT_EQ(s.icmp.type, 128);
  EXPECT_TRUE(s.icmp.has_id);
  EXPECT_EQ(s.icmp.id, 0xabcd);
  EXPECT_EQ(s.icmp.seq, 0x10);

  // Neighbour solicitation (135): no id, no error.
  bytes ns = cat({icmp(135, 0, 0), v6bytes("2001:db8::2")});
  auto n = P(cat({ethernet(0x86dd), ipv6(58, ns.size(), "2001:db8::1", "ff02::1:ff00:2", 255), ns}));
  EXPECT_FALSE(n.icmp.has_id);
  EXPECT_FALSE(n.is_icmp_error());
  EXPECT_EQ(n.icmp.embedded.status, embedded_status::none);

  // ICMP needs its 8-byte header (RFC 792).
  auto t = P(cat({ethernet(0x0800), ipv4(1, "10.0.0.2", "10.0.0.1", 4), bytes{8, 0, 0, 0}}));
  EXPECT_EQ(t.malformed.reason, "ICMP header exceeds IP packet");
  EXPECT_EQ(t.malformed.stage, parse_stage::icmp);
  // ICMPv6 carried by IPv4 (and ICMP by IPv6) is just another protocol.
  EXPECT_EQ(P(cat({ethernet(0x0800), ipv4(58, "10.0.0.2", "10.0.0.1", 8), e6})).l4, l4_kind::other);
}

TEST(PacketParse, IcmpPortUnreachableQuotesTheUdpDatagram) {
  // The host 10.0.0.2 answers 10.0.0.1:40000 → 10.0.0.2:9999/udp with type 3 code 3 (RFC 792, RFC 1122
  // §3.2.2).
  bytes original = cat({ipv4(17, "10.0.0.1", "10.0.0.2", 8 + 12), udp(40000, 9999, 12), bytes(12, 0x61)});
  bytes msg = cat({icmp(3, 3, 0), original});
  bytes f = cat({ethernet(0x0800), ipv4(1, "10.0.0.2", "10.0.0.1", msg.size(), {}, 1, 0, 64), msg});
  auto r = P(f);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.l4, l4_kind::icmp);
  EXPECT_TRUE(r.is_icmp_error());
  EXPECT_EQ(r.icmp.type, 3);
  EXPECT_EQ(r.icmp.code, 3);
  EXPECT_FALSE(r.icmp.has_id);
  const auto& e = r.icmp.embedded;
  EXPECT_EQ(e.status, embedded_status::complete);
  EXPECT_TRUE(e.problem.empty());
  EXPECT_EQ(e.fam, family::v4);
  EXPECT_EQ(e.protocol, 17);
  EXPECT_EQ(e.src, v4("10.0.0.1"));
  EXPECT_EQ(e.dst, v4("10.0.0.2"));
  EXPECT_TRUE(e.has_ports);
  EXPECT_EQ(e.src_port, 40000);
  EXPECT_EQ(e.dst_port, 9999);
  EXPECT_EQ(e.transport_length, 8);
  EXPECT_EQ(e.transport[5], 8 + 12);  // the quoted UDP length, low byte
  EXPECT_EQ(e.offset, 14u + 20u + 8u);

  // Only the IP header and 4 bytes of UDP quoted: ports read, but the quote is recorded as truncated.
  bytes short_msg = cat({icmp(3, 3, 0), bytes(original.begin(), original.begin() + 24)});
  auto s = P(cat({ethernet(0x0800), ipv4(1, "10.0.0.2", "10.0.0.1", short_msg.size()), short_msg}));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.icmp.embedded.status, embedded_status::truncated);
  EXPECT_EQ(s.icmp.embedded.problem, "truncated quoted transport header");
  EXPECT_TRUE(s.icmp.embedded.has_ports);
  EXPECT_EQ(s.icmp.embedded.dst_port, 9999);

  // Only 12 bytes of the IP header: no addresses, still not malformed.
  bytes tiny = cat({icmp(11, 0, 0), bytes(original.begin(), original.begin() + 12)});
  auto t = P(cat({ethernet(0x0800), ipv4(1, "10.0.0.2", "10.0.0.1", tiny.size()), tiny}));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t.icmp.embedded.status, embedded_status::truncated);
  EXPECT_EQ(t.icmp.embedded.fam, family::none);
  EXPECT_EQ(t.icmp.embedded.problem, "truncated quoted IPv4 header");

  // A quoted header with IHL 3: invalid quote, valid outer packet.
  bytes bad = msg;
  bad[8] = 0x43;
  auto b = P(cat({ethernet(0x0800), ipv4(1, "10.0.0.2", "10.0.0.1", bad.size()), bad}));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b.icmp.embedded.status, embedded_status::invalid);
  EXPECT_EQ(b.icmp.embedded.problem, "quoted IPv4 IHL < 5");

  // An error with no quote at all.
  auto none = P(cat({ethernet(0x0800), ipv4(1, "10.0.0.2", "10.0.0.1", 8), icmp(3, 1, 0)}));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none.icmp.embedded.status, embedded_status::truncated);
}

TEST(PacketParse, Icmpv6ErrorsQuoteTheOriginalPacket) {
  // Port unreachable (type 1, code 4; RFC 4443 §3.1) for 2001:db8::1:5353 → 2001:db8::2:9999/udp.
  bytes original = cat({ipv6(17, 8 + 4, "2001:db8::1", "2001:db8::2"), udp(5353, 9999, 4), bytes(4, 0)});
  bytes msg = cat({icmp(1, 4, 0), original});
  auto r = P(cat({ethernet(0x86dd), ipv6(58, msg.size(), "2001:db8::2", "2001:db8::1"), msg}));
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_TRUE(r.is_icmp_error());
  const auto& e = r.icmp.embedded;
  EXPECT_EQ(e.status, embedded_status::complete);
  EXPECT_EQ(e.fam, family::v6);
  EXPECT_EQ(e.protocol, 17);
  EXPECT_EQ(e.src, v6("2001:db8::1"));
  EXPECT_EQ(e.dst, v6("2001:db8::2"));
  EXPECT_EQ(e.src_port, 5353);
  EXPECT_EQ(e.dst_port, 9999);

  // Packet too big (type 2) quoting a TCP segment behind a destination-options header; MTU in `rest`.
  bytes seg = tcp(50000, 443, 0x11111111, 0, tcp_flag::ack);
  bytes orig2 = cat({ipv6(60, 8 + seg.size(), "2001:db8::1", "2001:db8::2"), ext(6, 0), seg});
  bytes ptb = cat({icmp(2, 0, 1280), orig2});
  auto p = P(cat({ethernet(0x86dd), ipv6(58, ptb.size(), "2001:db8::ff", "2001:db8::1"), ptb}));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.icmp.rest, 1280u);
  EXPECT_EQ(p.icmp.embedded.protocol, 6);
  EXPECT_EQ(p.icmp.embedded.src_port, 50000);
  EXPECT_EQ(p.icmp.embedded.dst_port, 443);
  EXPECT_EQ(p.icmp.embedded.status, embedded_status::complete);

  // The quote is not IPv6.
  bytes notv6 = cat({icmp(3, 0, 0), ipv4(17, "10.0.0.1", "10.0.0.2", 8), udp(1, 2, 0)});
  auto n = P(cat({ethernet(0x86dd), ipv6(58, notv6.size(), "2001:db8::2", "2001:db8::1"), notv6}));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n.icmp.embedded.status, embedded_status::invalid);
  EXPECT_EQ(n.icmp.embedded.problem, "quoted header is not IPv6");

  // The quoted chain is cut: truncated, not malformed.
  bytes cut = cat({icmp(1, 4, 0), ipv6(60, 32, "2001:db8::1", "2001:db8::2"), bytes{17, 3, 0, 0}});
  auto c = P(cat({ethernet(0x86dd), ipv6(58, cut.size(), "2001:db8::2", "2001:db8::1"), cut}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.icmp.embedded.status, embedded_status::truncated);
  EXPECT_EQ(c.icmp.embedded.fam, family::v6);
  EXPECT_FALSE(c.icmp.embedded.has_ports);
}

TEST(PacketParse, TransportLengthChecks) {
  auto with_tcp = [](std::uint8_t offset_byte) {
    bytes seg = tcp(1, 2, 3, 4, tcp_flag::syn);
    seg[12] = offset_byte;
    return P(cat({ethernet(0x0800), ipv4(6, "10.0.0.1", "10.0.0.2", seg.size()), seg}));
  };
  EXPECT_EQ(with_tcp(0x40).malformed.reason, "TCP data offset < 5");
  EXPECT_EQ(with_tcp(0x00).malformed.reason, "TCP data offset < 5");
  EXPECT_EQ(with_tcp(0x40).malformed.stage, parse_stage::tcp);
  EXPECT_EQ(with_tcp(0x60).malformed.reason, "TCP data offset exceeds IP packet");
  EXPECT_EQ(with_tcp(0xf0).malformed.reason, "TCP data offset exceeds IP packet");
  EXPECT_TRUE(with_tcp(0x50).ok());

  auto with_udp_len = [](std::uint16_t len) {
    bytes d = udp(1, 2, 4);
    d[4] = static_cast<std::uint8_t>(len >> 8);
    d[5] = static_cast<std::uint8_t>(len);
    return P(cat({ethernet(0x0800), ipv4(17, "10.0.0.1", "10.0.0.2", 12), d, bytes(4, 0)}));
  };
  EXPECT_EQ(with_udp_len(0).malformed.reason, "UDP length < 8");
  EXPECT_EQ(with_udp_len(7).malformed.reason, "UDP length < 8");
  EXPECT_EQ(with_udp_len(13).malformed.reason, "UDP length exceeds IP packet");
  EXPECT_EQ(with_udp_len(0xffff).malformed.reason, "UDP length exceeds IP packet");
  EXPECT_EQ(with_udp_len(0xffff).malformed.stage, parse_stage::udp);
  auto shorter = with_udp_len(10);  // trailing bytes after the datagram are allowed
  ASSERT_TRUE(shorter.ok());
  EXPECT_EQ(shorter.payload_length, 2u);
  EXPECT_TRUE(with_udp_len(8).ok());

  // A TCP header cut by the IPv4 total length.
  auto cut = P(cat({ethernet(0x0800), ipv4(6, "10.0.0.1", "10.0.0.2", 10), bytes(10, 0)}));
  EXPECT_EQ(cut.malformed.reason, "TCP header exceeds IP packet");
}

TEST(PacketParse, Ipv4HeaderChecks) {
  bytes good = cat({ethernet(0x0800), ipv4(17, "10.0.0.1", "10.0.0.2", 8), udp(1, 2, 0)});
  auto with = [&](std::size_t at, std::uint8_t v) {
    bytes f = good;
    f[at] = v;
    return P(f);
  };
  EXPECT_EQ(with(14, 0x44).malformed.reason, "IPv4 IHL < 5");
  EXPECT_EQ(with(14, 0x40).malformed.reason, "IPv4 IHL < 5");
  EXPECT_EQ(with(14, 0x44).malformed.stage, parse_stage::ipv4);
  EXPECT_EQ(with(14, 0x4f).malformed.reason, "truncated IPv4 options");
  EXPECT_EQ(with(14, 0x65).malformed.reason, "IPv4 version is not 4");
  EXPECT_EQ(with(17, 19).malformed.reason, "IPv4 total length < header length");  // total length 19
  EXPECT_EQ(with(17, 29).malformed.reason, "IPv4 total length exceeds frame");
  EXPECT_EQ(with(16, 0xff).malformed.reason, "IPv4 total length exceeds frame");
  EXPECT_EQ(P(cat({ethernet(0x0800), bytes(19, 0x45)})).malformed.reason, "truncated IPv4 header");
}

TEST(PacketParse, SnappedFramesParseTheirHeaders) {
  // A 1514-byte TCP frame captured with snaplen 96: lengths are accepted against the wire length.
  bytes data(1460, 0x7a);
  bytes seg = tcp(443, 60000, 10, 20, tcp_flag::ack | tcp_flag::psh);
  bytes full = cat({ethernet(0x0800), ipv4(6, "10.0.0.1", "10.0.0.2", seg.size() + data.size()), seg, data});
  ASSERT_EQ(full.size(), 1514u);
  bytes snapped(full.begin(), full.begin() + 96);
  auto r = P(snapped, link_type::ethernet, full.size());
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_TRUE(r.captured_truncated);
  EXPECT_EQ(r.payload_length, 1460u);
  EXPECT_EQ(r.captured_payload_length(snapped.size()), 96u - 54u);
  EXPECT_EQ(payload(std::as_bytes(std::span(snapped)), r).size(), 96u - 54u);
  // Without the wire length, the same bytes claim more than the frame holds.
  EXPECT_EQ(P(snapped).malformed.reason, "IPv4 total length exceeds frame");
  // A snap that splits the TCP header leaves its fields unknown: malformed, as truncated.
  bytes split(full.begin(), full.begin() + 40);
  EXPECT_EQ(P(split, link_type::ethernet, full.size()).malformed.reason, "truncated TCP header");
}

TEST(PacketParse, TrafficClassAndTosAndFrameOverload) {
  // IPv6 traffic class 0xb8 (DSCP EF 46, ECN 0) sits in bits 4..11 of the first word (RFC 8200 §3).
  bytes h6 = ipv6(59, 0, "2001:db8::1", "2001:db8::2");
  h6[0] = 0x6b;
  h6[1] = 0x80;
  auto r6 = P(h6, link_type::ipv6);
  ASSERT_TRUE(r6.ok());
  EXPECT_EQ(r6.tos, 0xb8);
  bytes h4 = cat({ipv4(17, "10.0.0.1", "10.0.0.2", 8), udp(1, 2, 0)});
  h4[1] = 0xb8;
  EXPECT_EQ(P(h4, link_type::ipv4).tos, 0xb8);
  // The io::frame overload passes the wire length along.
  bytes big = cat({ipv4(17, "10.0.0.1", "10.0.0.2", 108), udp(1, 2, 100), bytes(100, 0)});
  bytes snapped(big.begin(), big.begin() + 28);
  auto w = parse(strata::io::frame{std::as_bytes(std::span(snapped)), 128, {}, 1}, link_type::ipv4);
  ASSERT_TRUE(w.ok()) << describe(w);
  EXPECT_TRUE(w.captured_truncated);
  EXPECT_EQ(w.payload_length, 100u);
  auto cut =
      parse(strata::io::frame{std::as_bytes(std::span(snapped.data(), 24)), 128, {}, 2}, link_type::ipv4);
  EXPECT_EQ(cut.malformed.reason, "truncated UDP header");  // the snap splits the UDP header
  // Without a wire length the 28 bytes claim to be the whole frame.
  EXPECT_EQ(parse(strata::io::frame{std::as_bytes(std::span(snapped)), 28, {}, 3}, link_type::ipv4)
                .malformed.reason,
            "IPv4 total length exceeds frame");
}

TEST(PacketParse, ByteLoaders) {
  constexpr std::uint8_t b[] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0};
  static_assert(strata::detail::load_be16(b) == 0x1234);
  static_assert(strata::detail::load_be32(b) == 0x12345678u);
  static_assert(strata::detail::load_be64(b) == 0x123456789abcdef0ull);
  static_assert(strata::detail::load_le16(b) == 0x3412);
  static_assert(strata::detail::load_le32(b) == 0x78563412u);
  EXPECT_EQ(strata::detail::load_be32(b + 1), 0x3456789au);
  EXPECT_EQ(strata::detail::load_le32(b + 1), 0x9a785634u);
  EXPECT_EQ(strata::detail::load_be64(b), 0x123456789abcdef0ull);
  std::byte sb[2] = {std::byte{0xab}, std::byte{0xcd}};
  EXPECT_EQ(strata::detail::load_be16(sb), 0xabcd);
  EXPECT_EQ(name(parse_stage::ipv6_extension), "ipv6_extension");
}

// ---------------------------------------------------------------------------------------------------
// Field corruption on hand-built packets whose headers real captures rarely have.

struct field_edit {
  std::size_t at;     // offset of the field
  std::size_t width;  // 1 (a byte or a nibble, see mask) or 2
  std::uint8_t mask;  // for width 1: which bits the field occupies (0xff, 0x0f, 0xf0)
};

void put(bytes& f, const field_edit& e, std::uint32_t value) {
  if (e.width == 2) {
    f[e.at] = static_cast<std::uint8_t>(value >> 8);
    f[e.at + 1] = static_cast<std::uint8_t>(value);
    return;
  }
  int shift = e.mask == 0xf0 ? 4 : 0;
  f[e.at] = static_cast<std::uint8_t>((f[e.at] & ~e.mask) | ((value << shift) & e.mask));
}

std::uint32_t get(const bytes& f, const field_edit& e) {
  if (e.width == 2) return (std::uint32_t{f[e.at]} << 8) | f[e.at + 1];
  return e.mask == 0xf0 ? (f[e.at] & 0xf0u) >> 4 : f[e.at] & e.mask;
}

// Sets the field to 0, 1, value-1, value+1 and its maximum; every result is malformed with a reason
// or a consistent parse. Returns how many variants were malformed.
int corrupt_field(const bytes& f, link_type lt, const field_edit& e, const std::string& what,
                  std::size_t wire = 0) {
  const std::uint32_t max = e.width == 2 ? 0xffff : (e.mask == 0xff ? 0xff : 0x0f);
  const std::uint32_t orig = get(f, e);
  int malformed = 0;
  for (std::uint32_t v : {0u, 1u, orig - 1, orig + 1, max / 2, max}) {
    v &= max;
    bytes g = f;
    put(g, e, v);
    auto r = P(g, lt, wire);
    expect_consistent(r, g.size(), what + "=" + std::to_string(v));
    if (r.is_malformed()) ++malformed;
  }
  return malformed;
}

TEST(PacketParse, CorruptionOfHandBuiltExtensionHeadersAndQuotes) {
  // IPv6 with hop-by-hop, routing, destination options and AH before UDP: every length byte.
  bytes chain = cat({ext(43, 0), ext(60, 1), ext(51, 0), ah(17, 4)});
  bytes f = cat({ethernet(0x86dd), ipv6(0, chain.size() + 12, "2001:db8::1", "2001:db8::2"), chain,
                 udp(1, 2, 4), bytes(4, 0)});
  ASSERT_TRUE(P(f).ok());
  std::size_t base = 14 + 40;
  for (std::size_t off : {base + 1, base + 8 + 1, base + 24 + 1, base + 32 + 1})
    EXPECT_GT(corrupt_field(f, link_type::ethernet, {off, 1, 0xff}, "ext len @" + std::to_string(off)), 0);
  EXPECT_GT(corrupt_field(f, link_type::ethernet, {14 + 4, 2, 0}, "ipv6 payload length"), 0);

  // ICMPv4 error quoting a TCP segment: quoted IHL and total length.
  bytes orig = cat({ipv4(6, "10.0.0.1", "10.0.0.2", 20), tcp(1000, 80, 5, 0, tcp_flag::syn)});
  bytes msg = cat({icmp(3, 3, 0), orig});
  bytes g = cat({ethernet(0x0800), ipv4(1, "10.0.0.2", "10.0.0.1", msg.size()), msg});
  std::size_t q = 14 + 20 + 8;
  EXPECT_EQ(corrupt_field(g, link_type::ethernet, {q, 1, 0x0f}, "quoted IHL"), 0);  // never malformed outside
  EXPECT_EQ(corrupt_field(g, link_type::ethernet, {q + 2, 2, 0}, "quoted total length"), 0);
  for (std::uint8_t ihl : {0, 1, 4}) {
    bytes h = g;
    h[q] = static_cast<std::uint8_t>(0x40 | ihl);
    auto r = P(h);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.icmp.embedded.status, embedded_status::invalid);
  }
  // ICMPv6 error quoting an IPv6 packet with a destination-options header: its lengths.
  bytes orig6 = cat({ipv6(60, 8 + 8, "2001:db8::1", "2001:db8::2"), ext(17, 0), udp(3, 4, 0)});
  bytes msg6 = cat({icmp(1, 4, 0), orig6});
  bytes h6 = cat({ethernet(0x86dd), ipv6(58, msg6.size(), "2001:db8::2", "2001:db8::1"), msg6});
  std::size_t q6 = 14 + 40 + 8;
  EXPECT_EQ(corrupt_field(h6, link_type::ethernet, {q6 + 4, 2, 0}, "quoted ipv6 payload length"), 0);
  EXPECT_EQ(corrupt_field(h6, link_type::ethernet, {q6 + 40 + 1, 1, 0xff}, "quoted ext length"), 0);
}

// ---------------------------------------------------------------------------------------------------
// Real captures (shared/captures, see its MANIFEST.txt)

#if defined(STRATA_HAVE_PCAP)

std::filesystem::path captures_dir() { return std::filesystem::path(STRATA_SHARED_DIR) / "captures"; }

struct capture {
  std::string name;
  link_type lt;
  std::vector<bytes> frames;
  std::vector<std::uint32_t> wire;
};

std::vector<std::string> capture_names() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(captures_dir(), ec)) {
    auto ext = e.path().extension().string();
    if (ext == ".pcap" || ext == ".pcapng") names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

capture load(const std::string& name) {
  capture c{name, link_type::ethernet, {}, {}};
  auto file = strata::io::pcap_reader::open(captures_dir() / name);
  EXPECT_TRUE(file.has_value()) << (file ? "" : file.error().what());
  if (!file) return c;
  c.lt = file->link_type();
  for (const auto& f : *file) {
    auto p = reinterpret_cast<const std::uint8_t*>(f.data.data());
    c.frames.emplace_back(p, p + f.data.size());
    c.wire.push_back(f.wire_length);
  }
  EXPECT_FALSE(file->failed()) << name;
  return c;
}

// MANIFEST.txt: a file name at the start of a line, then "  contents: {"key": n, ...}".
std::map<std::string, std::map<std::string, long>> manifest() {
  std::map<std::string, std::map<std::string, long>> out;
  std::ifstream in(captures_dir() / "MANIFEST.txt");
  std::string line, current;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != ' ' && (line.ends_with(".pcap") || line.ends_with(".pcapng")))
      current = line;
    auto pos = line.find("contents: {");
    if (pos == std::string::npos || current.empty()) continue;
    std::string_view s(line);
    s.remove_prefix(pos + 11);
    while (true) {
      auto q1 = s.find('"');
      if (q1 == std::string_view::npos) break;
      auto q2 = s.find('"', q1 + 1);
      auto colon = s.find(':', q2);
      std::string key(s.substr(q1 + 1, q2 - q1 - 1));
      std::size_t i = colon + 1;
      while (i < s.size() && s[i] == ' ') ++i;
      long v = 0;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') v = v * 10 + (s[i++] - '0');
      out[current][key] = v;
      s.remove_prefix(i);
    }
  }
  return out;
}

#define STRATA_NEED_CAPTURES()                        \
  if (!std::filesystem::is_directory(captures_dir())) \
  GTEST_SKIP() << "no captures at " << captures_dir() << " (set STRATA_SHARED_DIR to the shared/ folder)"

TEST(PacketParseCaptures, EveryFrameIsAccountedForAndFeatureCountsMatchTheManifest) {
  STRATA_NEED_CAPTURES();
  auto names = capture_names();
  ASSERT_FALSE(names.empty());
  auto man = manifest();
  std::size_t described = 0;
  for (const auto& name : names) {
    SCOPED_TRACE(name);
    capture c = load(name);
    std::map<std::string, long> n;
    long ok = 0, not_ip = 0, bad = 0;
    for (std::size_t i = 0; i < c.frames.size(); ++i) {
      const bytes& f = c.frames[i];
      auto r = P(f, c.lt, c.wire[i]);
      expect_consistent(r, f.size(), name + " frame " + std::to_string(i + 1));
      if (r.ok())
        ++ok;
      else if (r.is_not_ip())
        ++not_ip;
      else
        ++bad;
      bool is6 = r.fam == family::v6;
      if (r.link.vlan_count > 0) ++n["vlan"];
      if (r.fam == family::v4 && r.frag.is_fragment()) ++n["ipv4_frag"];
      if (is6 && r.frag.has_header) ++n["ipv6_frag"];
      if (r.l4 == l4_kind::tcp) ++n[is6 ? "tcp_ipv6" : "tcp_ip"];
      if (r.l4 == l4_kind::udp) ++n[is6 ? "udp_ipv6" : "udp_ip"];
      if (r.l4 == l4_kind::icmp && (r.icmp.type == 0 || r.icmp.type == 8)) ++n["icmp_echo"];
      if (r.l4 == l4_kind::icmpv6 && (r.icmp.type == 128 || r.icmp.type == 129)) ++n["icmp6_echo"];
      if (r.l4 == l4_kind::icmp && r.icmp.type == 3 && r.icmp.code == 3) ++n["icmp_port_unreach"];
      if (r.l4 == l4_kind::icmpv6 && r.icmp.type == 1 && r.icmp.code == 4) ++n["icmp6_port_unreach"];
      if (r.l4 == l4_kind::tcp && r.tcp.is_rst()) ++n["rst"];
      if (r.is_icmp_error()) {
        EXPECT_NE(r.icmp.embedded.status, embedded_status::invalid);
      }
    }
    EXPECT_EQ(ok + not_ip + bad, static_cast<long>(c.frames.size()));
    EXPECT_EQ(bad, 0) << "real captures hold no malformed frame";
    auto it = man.find(name);
    if (it == man.end()) continue;  // a capture the manifest does not describe
    ++described;
    const auto& m = it->second;
    auto want = [&](const char* k) { return m.count(k) ? m.at(k) : 0L; };
    EXPECT_EQ(static_cast<long>(c.frames.size()), want("pkts"));
    // Same definitions: exact.
    for (const char* k : {"vlan", "ipv4_frag", "ipv6_frag", "icmp_echo", "icmp6_echo", "icmp_port_unreach",
                          "icmp6_port_unreach", "rst"})
      EXPECT_EQ(n[k], want(k)) << k;
    // The manifest counts a fragmented datagram's transport header once, after reassembly; this parser
    // sees it in the first fragment (when it fits there). Exact without fragments, close with them.
    long frags = want("ipv4_frag") + want("ipv6_frag");
    for (const char* k : {"tcp_ip", "udp_ip", "tcp_ipv6", "udp_ipv6"}) {
      if (frags == 0) {
        EXPECT_EQ(n[k], want(k)) << k;
      } else {
        EXPECT_LE(std::abs(n[k] - want(k)), frags) << k;
      }
    }
  }
  EXPECT_EQ(described, names.size()) << "captures missing from MANIFEST.txt";
}

// Every frame cut at every byte offset: a consistent parse of a shorter packet, or malformed with a
// reason; never a read past the cut (each cut is parsed from an exact-size heap copy, so ASan sees it).
TEST(PacketParseCaptures, TruncationSweep) {
  STRATA_NEED_CAPTURES();
  std::size_t cuts = 0, became_malformed = 0;
  for (const auto& name : capture_names()) {
    capture c = load(name);
    for (std::size_t i = 0; i < c.frames.size(); ++i) {
      const bytes& f = c.frames[i];
      const parsed full = P(f, c.lt, c.wire[i]);
      for (std::size_t n = 0; n < f.size(); ++n) {
        bytes cut(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(n));
        std::string ctx = name + " frame " + std::to_string(i + 1) + " cut at " + std::to_string(n);
        // As a complete frame of n bytes.
        auto r = P(cut, c.lt);
        expect_consistent(r, n, ctx);
        if (full.ok() && !full.captured_truncated && n >= full.ip_end) {
          // Only link padding was cut: the same packet.
          EXPECT_TRUE(r.ok()) << ctx;
          EXPECT_EQ(r.ip_end, full.ip_end) << ctx;
          EXPECT_EQ(r.l4, full.l4) << ctx;
          EXPECT_EQ(r.src_port, full.src_port) << ctx;
          EXPECT_EQ(r.payload_length, full.payload_length) << ctx;
        }
        // As a snapped prefix of the original frame.
        auto s = P(cut, c.lt, c.wire[i]);
        expect_consistent(s, n, ctx + " (snapped)");
        if (s.ok() && full.ok()) {
          EXPECT_EQ(s.fam, full.fam) << ctx;
          EXPECT_EQ(s.src, full.src) << ctx;
          EXPECT_EQ(s.dst, full.dst) << ctx;
          EXPECT_EQ(s.protocol, full.protocol) << ctx;
          EXPECT_EQ(s.ip_total_length, full.ip_total_length) << ctx;
          if (s.l4 == full.l4) {
            EXPECT_EQ(s.src_port, full.src_port) << ctx;
            EXPECT_EQ(s.dst_port, full.dst_port) << ctx;
            EXPECT_EQ(s.payload_length, full.payload_length) << ctx;
          }
        }
        if (full.ok() && s.ok()) {
          EXPECT_EQ(s.l4, full.l4) << ctx;
        }
        ++cuts;
        if (r.is_malformed()) ++became_malformed;
      }
    }
  }
  RecordProperty("cuts", static_cast<int>(cuts));
  std::cout << "[ truncation ] " << cuts << " cuts, " << became_malformed
            << " malformed as complete frames\n";
  EXPECT_GT(cuts, 100000u);
}

// Locates the IP/transport headers of a real frame, for the corruption sweep.
struct layout {
  std::size_t l3 = 0, l4 = 0;
};

TEST(PacketParseCaptures, CorruptionSweep) {
  STRATA_NEED_CAPTURES();
  std::map<std::string, int> tried, malformed;
  for (const auto& name : capture_names()) {
    capture c = load(name);
    for (std::size_t i = 0; i < c.frames.size(); ++i) {
      const bytes& f = c.frames[i];
      const std::size_t wire = c.wire[i];
      auto r = P(f, c.lt, wire);
      if (!r.ok()) continue;
      const std::string ctx = name + " frame " + std::to_string(i + 1);
      auto run = [&](const char* what, field_edit e) {
        if (e.at + e.width > f.size()) return;
        tried[what] += 6;
        malformed[what] += corrupt_field(f, c.lt, e, ctx + " " + what, wire);
      };
      const std::size_t l3 = r.l3_offset, l4 = r.l4_offset;
      if (r.fam == family::v4) {
        run("ipv4 ihl", {l3, 1, 0x0f});
        run("ipv4 total length", {l3 + 2, 2, 0});
        // IHL below 5 is always malformed with the IHL reason.
        for (std::uint8_t v : {0, 1, 4}) {
          bytes g = f;
          g[l3] = static_cast<std::uint8_t>(0x40 | v);
          EXPECT_EQ(P(g, c.lt, wire).malformed.reason, "IPv4 IHL < 5") << ctx;
        }
      } else {
        run("ipv6 payload length", {l3 + 4, 2, 0});
        // Every extension header's length byte (fragment headers have none).
        std::uint8_t nh = f[l3 + 6];
        std::size_t off = l3 + 40;
        for (unsigned k = 0; k < r.ipv6_extension_count && off + 2 <= f.size(); ++k) {
          if (nh == ip_proto::fragment) {
            nh = f[off];
            off += 8;
            continue;
          }
          run("ipv6 extension length", {off + 1, 1, 0xff});
          std::size_t len = nh == ip_proto::ah ? (f[off + 1] + 2u) * 4 : (f[off + 1] + 1u) * 8;
          nh = f[off];
          off += len;
        }
      }
      if (r.l4 == l4_kind::tcp) {
        run("tcp data offset", {l4 + 12, 1, 0xf0});
        for (std::uint8_t v : {0, 1, 4}) {
          bytes g = f;
          g[l4 + 12] = static_cast<std::uint8_t>((g[l4 + 12] & 0x0f) | (v << 4));
          EXPECT_EQ(P(g, c.lt, wire).malformed.reason, "TCP data offset < 5") << ctx;
        }
      }
      if (r.l4 == l4_kind::udp) {
        run("udp length", {l4 + 4, 2, 0});
        for (std::uint16_t v : {0, 1, 7}) {
          bytes g = f;
          g[l4 + 4] = 0;
          g[l4 + 5] = static_cast<std::uint8_t>(v);
          EXPECT_EQ(P(g, c.lt, wire).malformed.reason, "UDP length < 8") << ctx;
        }
        if (!r.frag.more && !r.captured_truncated) {
          bytes g = f;
          g[l4 + 4] = 0xff;
          g[l4 + 5] = 0xff;
          EXPECT_EQ(P(g, c.lt, wire).malformed.reason, "UDP length exceeds IP packet") << ctx;
        }
      }
      if (r.is_icmp_error() && r.icmp.embedded.fam != family::none) {
        const std::size_t q = r.icmp.embedded.offset;
        if (r.icmp.embedded.fam == family::v4) {
          run("quoted ipv4 ihl", {q, 1, 0x0f});
          run("quoted ipv4 total length", {q + 2, 2, 0});
        } else {
          run("quoted ipv6 payload length", {q + 4, 2, 0});
        }
      }
    }
  }
  for (const auto& [what, n] : tried)
    std::cout << "[ corruption ] " << what << ": " << n << " variants, " << malformed[what] << " malformed\n";
  EXPECT_GT(tried["ipv4 ihl"], 0);
  EXPECT_GT(tried["ipv6 payload length"], 0);
  EXPECT_GT(tried["tcp data offset"], 0);
  EXPECT_GT(tried["udp length"], 0);
  EXPECT_GT(tried["quoted ipv4 ihl"], 0);
  EXPECT_GT(tried["quoted ipv6 payload length"], 0);
  EXPECT_EQ(malformed["quoted ipv4 ihl"], 0);  // a broken quote never makes the outer packet malformed
}

// Real frames read as every link type, and with random bytes overwritten (a deterministic, in-suite
// complement to the fuzzers): every outcome consistent, nothing read past the frame.
TEST(PacketParseCaptures, EveryLinkTypeAndRandomMutations) {
  STRATA_NEED_CAPTURES();
  const link_type all[] = {link_type::null,      link_type::ethernet, link_type::raw,  link_type::loop,
                           link_type::linux_sll, link_type::ipv4,     link_type::ipv6, link_type::linux_sll2};
  std::uint64_t state = 0x9e3779b97f4a7c15ull;
  auto next = [&state] {  // xorshift64*
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545f4914f6cdd1dull;
  };
  std::size_t runs = 0;
  std::map<std::string, int> outcomes;
  for (const auto& name : capture_names()) {
    capture c = load(name);
    for (std::size_t i = 0; i < c.frames.size(); ++i) {
      const bytes& f = c.frames[i];
      const std::string ctx = name + " frame " + std::to_string(i + 1);
      for (link_type lt : all) {
        auto r = P(f, lt, c.wire[i]);
        expect_consistent(r, f.size(), ctx + " as " + std::string(strata::packet::name(lt)));
        ++runs;
      }
      if (f.empty()) continue;
      for (int m = 0; m < 16; ++m) {
        bytes g = f;
        const int flips = 1 + static_cast<int>(next() % 4);
        // Mutations concentrate on the headers, where the length fields are.
        const std::size_t span = std::min<std::size_t>(g.size(), 128);
        for (int k = 0; k < flips; ++k) g[next() % span] = static_cast<std::uint8_t>(next());
        auto r = P(g, c.lt, c.wire[i]);
        expect_consistent(r, g.size(), ctx + " mutation " + std::to_string(m));
        ++outcomes[r.is_malformed() ? std::string(r.malformed.reason) : r.ok() ? "ok" : "not ip"];
        ++runs;
      }
    }
  }
  std::cout << "[ mutation ] " << runs << " parses; outcomes of mutated frames:\n";
  for (const auto& [what, n] : outcomes) std::cout << "    " << n << "  " << what << "\n";
  EXPECT_GT(runs, 10000u);
}

#else

TEST(PacketParseCaptures, NeedLibpcap) {
  GTEST_SKIP() << "built without libpcap (strata::pcap): real captures not read";
}

#endif

}  // namespace
