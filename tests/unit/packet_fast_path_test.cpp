// parse's straight line for the common frame (detail::is_common, detail::parse_common) against the general
// path (detail::parse_general): on every frame of the captures, on hand-built frames and on many mutations of
// them (lengths, flags, offsets, truncations), both must produce the same record field by field.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <random>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include <strata/io/pcap_file.hpp>
#include <strata/packet/parse.hpp>

#include "hostile_frames.hpp"

namespace {

using namespace strata::packet;

// What parse_general writes, starting from a default-constructed record.
parsed general(std::span<const std::byte> f, link_type lt, std::size_t wire) {
  parsed r;
  detail::parse_general(reinterpret_cast<const std::uint8_t*>(f.data()), f.size(), lt, wire, r);
  return r;
}

bool same_frag(const fragment_info& a, const fragment_info& b) {
  return a.id == b.id && a.offset == b.offset && a.more == b.more && a.dont_fragment == b.dont_fragment &&
         a.has_header == b.has_header && a.header_offset == b.header_offset && a.data_offset == b.data_offset;
}

bool same_embedded(const embedded_packet& a, const embedded_packet& b) {
  return a.status == b.status && a.fam == b.fam && a.protocol == b.protocol && a.has_ports == b.has_ports &&
         a.transport_length == b.transport_length && a.src == b.src && a.dst == b.dst &&
         a.src_port == b.src_port && a.dst_port == b.dst_port && a.transport == b.transport &&
         same_frag(a.frag, b.frag) && a.offset == b.offset && a.problem == b.problem;
}

// Field by field; `icmp` only where it holds a value (l4 icmp/icmpv6).
bool same(const parsed& a, const parsed& b) {
  const link_info &x = a.link, &y = b.link;
  const bool link = x.type == y.type && x.ethertype == y.ethertype && x.header_length == y.header_length &&
                    x.vlan_count == y.vlan_count && x.vlan_ids == y.vlan_ids &&
                    x.packet_type == y.packet_type && x.arphrd_type == y.arphrd_type &&
                    x.ifindex == y.ifindex && x.has_dst_mac == y.has_dst_mac &&
                    x.has_src_mac == y.has_src_mac && x.dst_mac == y.dst_mac && x.src_mac == y.src_mac;
  const bool tcp = a.tcp.seq == b.tcp.seq && a.tcp.ack == b.tcp.ack && a.tcp.flags == b.tcp.flags &&
                   a.tcp.header_length == b.tcp.header_length && a.tcp.window == b.tcp.window;
  bool icmp = true;
  if (a.l4 == l4_kind::icmp || a.l4 == l4_kind::icmpv6)
    icmp = a.icmp.type == b.icmp.type && a.icmp.code == b.icmp.code && a.icmp.has_id == b.icmp.has_id &&
           a.icmp.is_error == b.icmp.is_error && a.icmp.id == b.icmp.id && a.icmp.seq == b.icmp.seq &&
           a.icmp.rest == b.icmp.rest && same_embedded(a.icmp.embedded, b.icmp.embedded);
  return link && tcp && icmp && a.status == b.status && a.stage == b.stage && a.malformed == b.malformed &&
         a.fam == b.fam && a.src == b.src && a.dst == b.dst && a.protocol == b.protocol && a.ttl == b.ttl &&
         a.tos == b.tos && a.ipv6_extension_count == b.ipv6_extension_count &&
         a.captured_truncated == b.captured_truncated && a.ipv4_options_length == b.ipv4_options_length &&
         a.ip_header_length == b.ip_header_length && a.ip_total_length == b.ip_total_length &&
         same_frag(a.frag, b.frag) && a.l3_offset == b.l3_offset && a.l4_offset == b.l4_offset &&
         a.payload_offset == b.payload_offset && a.payload_length == b.payload_length &&
         a.ip_end == b.ip_end && a.l4 == b.l4 && a.src_port == b.src_port && a.dst_port == b.dst_port;
}

struct tally {
  std::size_t frames = 0, common = 0, differ = 0;
};

void compare(std::span<const std::byte> f, link_type lt, std::size_t wire, tally& t) {
  const parsed a = parse(f, lt, wire);
  const parsed b = general(f, lt, wire);
  ++t.frames;
  detail::common_frame c;
  const std::size_t w = wire > f.size() ? wire : f.size();
  if (lt == link_type::ethernet &&
      detail::is_common(reinterpret_cast<const std::uint8_t*>(f.data()), f.size(), w, c))
    ++t.common;
  if (!same(a, b)) {
    if (t.differ < 5) ADD_FAILURE() << "parse and parse_general differ on a " << f.size() << "-byte frame";
    ++t.differ;
  }
}

std::span<const std::byte> as_bytes(const hostile::bytes& b) { return std::as_bytes(std::span(b)); }

// Mutations of one frame that cross each condition of the straight line.
void mutate_and_compare(hostile::bytes b, std::size_t wire, std::mt19937& rng, tally& t) {
  compare(as_bytes(b), link_type::ethernet, wire, t);
  const std::size_t n = b.size() < 80 ? b.size() : 80;  // the headers
  for (int k = 0; k < 48 && n > 0; ++k) {
    hostile::bytes m = b;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = rng() % n;
      switch (rng() % 4) {
        case 0:
          m[at] = static_cast<std::uint8_t>(rng());
          break;
        case 1:
          m[at] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
          break;
        case 2:
          m[at] = static_cast<std::uint8_t>(m[at] + 1);
          break;
        default:
          m[at] = static_cast<std::uint8_t>(m[at] - 1);
          break;
      }
    }
    compare(as_bytes(m), link_type::ethernet, wire, t);
  }
  for (std::size_t cut = 0; cut <= b.size() && cut <= 80; ++cut) {  // snapped and truncated frames
    hostile::bytes m(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(cut));
    compare(as_bytes(m), link_type::ethernet, 0, t);
    compare(as_bytes(m), link_type::ethernet, b.size(), t);
  }
}

TEST(PacketFastPath, HandBuiltFramesAndMutationsMatchTheGeneralPath) {
  using namespace hostile;
  std::mt19937 rng(7);
  tally t;
  std::vector<bytes> frames;
  for (const std::size_t data : {std::size_t{0}, std::size_t{1}, std::size_t{100}}) {
    frames.push_back(ipv4(0x0a000001, 0x0a000002, 6, tcp(1234, 80, tcp_flags::syn, 1, 0, data)));
    frames.push_back(ipv4(0x0a000001, 0x0a000002, 17, udp(53, 5353, data)));
    frames.push_back(ipv4(0x0a000001, 0x0a000002, 1, bytes(8 + data, 0)));
  }
  for (const bytes& f : frames) mutate_and_compare(f, 0, rng, t);
  for (const bytes& f : frames) mutate_and_compare(f, f.size() + 200, rng, t);  // snapped captures
  EXPECT_EQ(t.differ, 0u);
  EXPECT_GT(t.common, 0u);
  EXPECT_LT(t.common, t.frames);
}

TEST(PacketFastPath, CapturesMatchTheGeneralPath) {
  std::mt19937 rng(11);
  tally t;
  std::size_t files = 0;
  for (const auto& path : hostile::capture_files()) {
    auto reader = strata::io::pcap_reader::open(path);
    if (!reader) continue;
    ++files;
    std::size_t i = 0;
    for (const strata::io::frame& f : *reader) {
      compare(f.data, reader->link_type(), f.wire_length, t);
      if (reader->link_type() == link_type::ethernet && i++ % 16 == 0) {
        hostile::bytes b(f.data.size());
        for (std::size_t k = 0; k < b.size(); ++k) b[k] = std::to_integer<std::uint8_t>(f.data[k]);
        mutate_and_compare(std::move(b), f.wire_length, rng, t);
      }
    }
  }
  if (files == 0) GTEST_SKIP() << "no captures";
  std::printf("%zu captures: %zu frames and mutations, %zu on the straight line, %zu differ\n", files,
              t.frames, t.common, t.differ);
  EXPECT_EQ(t.differ, 0u);
  EXPECT_GT(t.common, 0u);
}

}  // namespace
