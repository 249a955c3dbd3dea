// strata::flow::reassembler: IPv4 (RFC 791) and IPv6 (RFC 8200 §4.5) reassembly on hand-built fragments
// (expected output: the original unfragmented packet, built by the test; header fields per the RFCs),
// the drops of RFC 5722 (overlaps), oversize datagrams, limits (fragments, pool, datagram slots, per-host
// share), timeouts (30 s / 60 s), a fragment flood, and real fragmented captures (expected values from
// the captures' known contents: tcpdump's decoding and shared/captures/MANIFEST.txt).
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <strata/address.hpp>
#include <strata/flow/reassembly.hpp>
#include <strata/packet/parse.hpp>

#if defined(STRATA_HAVE_PCAP)
#include <strata/io/pcap_file.hpp>
#endif

namespace {

using namespace strata::flow;
using strata::address;
using strata::family;
using strata::packet::link_type;
using strata::packet::parsed;
using bytes = std::vector<std::uint8_t>;

constexpr std::int64_t ms(std::int64_t n) { return n * 1'000'000; }
constexpr std::int64_t sec(std::int64_t n) { return n * 1'000'000'000; }

std::size_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  const int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE)) : 0;
}

// ---------------------------------------------------------------------------------------------------
// Packet building (RFC 791 / RFC 8200 / RFC 768 layouts)

void put16(bytes& b, std::size_t at, unsigned v) {
  b[at] = static_cast<std::uint8_t>(v >> 8);
  b[at + 1] = static_cast<std::uint8_t>(v);
}
void put32(bytes& b, std::size_t at, std::uint32_t v) {
  put16(b, at, v >> 16);
  put16(b, at + 2, v & 0xffff);
}
/// Appends [first, last). Not vector::insert: inlined with an empty range, g++ 12 at -O3 reports its memcpy
/// as reading from a region of size 0 (-Wstringop-overread, a false positive; see hostile_frames.hpp).
template <class It>
void append(bytes& b, It first, It last) {
  if (first == last) return;
  const std::size_t at = b.size();
  b.resize(at + static_cast<std::size_t>(std::distance(first, last)));
  std::copy(first, last, b.begin() + static_cast<std::ptrdiff_t>(at));
}
unsigned get16(const bytes& b, std::size_t at) { return (unsigned{b[at]} << 8) | b[at + 1]; }

/// RFC 1071 Internet checksum.
std::uint16_t inet_checksum(const std::uint8_t* p, std::size_t n) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += (std::uint32_t{p[i]} << 8) | p[i + 1];
  if (n % 2) sum += std::uint32_t{p[n - 1]} << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

bytes pattern(std::size_t n, unsigned seed = 1) {
  bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>((i * 7 + seed * 13) ^ (i >> 8));
  return b;
}

bytes udp(unsigned sport, unsigned dport, const bytes& payload) {
  bytes b(8);
  put16(b, 0, sport);
  put16(b, 2, dport);
  put16(b, 4, static_cast<unsigned>(8 + payload.size()));
  append(b, payload.begin(), payload.end());
  return b;
}

/// An IPv4 packet: IHL from the options, TTL 64, flags as given, header checksum set.
bytes ipv4(std::uint8_t proto, std::uint32_t src, std::uint32_t dst, unsigned id, const bytes& payload,
           const bytes& options = {}, unsigned flags = 0) {
  const std::size_t hl = 20 + options.size();
  bytes b(hl);
  b[0] = static_cast<std::uint8_t>(0x40 | (hl / 4));
  put16(b, 2, static_cast<unsigned>(hl + payload.size()));
  put16(b, 4, id);
  put16(b, 6, flags << 13);
  b[8] = 64;
  b[9] = proto;
  put32(b, 12, src);
  put32(b, 16, dst);
  std::copy(options.begin(), options.end(), b.begin() + 20);
  put16(b, 10, inet_checksum(b.data(), hl));
  append(b, payload.begin(), payload.end());
  return b;
}

/// Fragments an IPv4 packet at the given data offsets (multiples of 8, first 0), per RFC 791: every
/// fragment carries the whole header, MF on all but the last, the offset in 8-byte units.
std::vector<bytes> fragment_v4(const bytes& pkt, const std::vector<std::size_t>& starts) {
  const std::size_t hl = (pkt[0] & 0x0f) * 4u;
  const std::size_t data = pkt.size() - hl;
  std::vector<bytes> out;
  for (std::size_t i = 0; i < starts.size(); ++i) {
    const std::size_t off = starts[i];
    const std::size_t end = i + 1 < starts.size() ? starts[i + 1] : data;
    bytes f(pkt.begin(), pkt.begin() + static_cast<std::ptrdiff_t>(hl));
    append(f, pkt.begin() + static_cast<std::ptrdiff_t>(hl + off),
           pkt.begin() + static_cast<std::ptrdiff_t>(hl + end));
    put16(f, 2, static_cast<unsigned>(hl + end - off));
    const unsigned keep = get16(pkt, 6) & 0xc000;  // reserved and DF
    put16(f, 6, keep | (i + 1 < starts.size() ? 0x2000u : 0u) | static_cast<unsigned>(off / 8));
    put16(f, 10, 0);
    put16(f, 10, inet_checksum(f.data(), hl));
    out.push_back(std::move(f));
  }
  return out;
}

/// A raw IPv4 fragment with arbitrary fields (offset in bytes, must be a multiple of 8).
bytes v4_fragment(std::uint32_t src, unsigned id, std::size_t offset, bool more, const bytes& data,
                  std::uint8_t proto = 17, std::uint32_t dst = 0x0a000002) {
  bytes f = ipv4(proto, src, dst, id, data);
  put16(f, 6, (more ? 0x2000u : 0u) | static_cast<unsigned>(offset / 8));
  put16(f, 10, 0);
  put16(f, 10, inet_checksum(f.data(), 20));
  return f;
}

bytes v6addr(const char* text) {
  auto a = strata::parse_address(text, family::v6)->v6_bytes();
  return bytes(a.begin(), a.end());
}

bytes ipv6(std::uint8_t nh, const char* src, const char* dst, const bytes& payload) {
  bytes b(8);
  b[0] = 0x60;
  put16(b, 4, static_cast<unsigned>(payload.size()));
  b[6] = nh;
  b[7] = 64;
  bytes s = v6addr(src), d = v6addr(dst);
  append(b, s.begin(), s.end());
  append(b, d.begin(), d.end());
  append(b, payload.begin(), payload.end());
  return b;
}

/// An options extension header (hop-by-hop or destination options) of `units` * 8 + 8 bytes, PadN-filled.
bytes ext(std::uint8_t nh, unsigned units) {
  bytes b((units + 1) * 8, 0);
  b[0] = nh;
  b[1] = static_cast<std::uint8_t>(units);
  b[2] = 1;  // PadN
  b[3] = static_cast<std::uint8_t>(b.size() - 4);
  return b;
}

/// Fragments an IPv6 packet per RFC 8200 §4.5: the first `unfrag` bytes are the per-fragment headers, the
/// Next Header byte at `nh_at` (which names the first fragmentable header) becomes 44, and a fragment
/// header (Next Header = that original value, offset, M, identification) precedes each piece.
std::vector<bytes> fragment_v6(const bytes& pkt, std::size_t unfrag, std::size_t nh_at, std::uint32_t id,
                               const std::vector<std::size_t>& starts) {
  const std::size_t data = pkt.size() - unfrag;
  std::vector<bytes> out;
  for (std::size_t i = 0; i < starts.size(); ++i) {
    const std::size_t off = starts[i];
    const std::size_t end = i + 1 < starts.size() ? starts[i + 1] : data;
    bytes f(pkt.begin(), pkt.begin() + static_cast<std::ptrdiff_t>(unfrag));
    f[nh_at] = 44;
    bytes fh(8, 0);
    fh[0] = pkt[nh_at];
    put16(fh, 2, static_cast<unsigned>(off) | (i + 1 < starts.size() ? 1u : 0u));
    put32(fh, 4, id);
    append(f, fh.begin(), fh.end());
    append(f, pkt.begin() + static_cast<std::ptrdiff_t>(unfrag + off),
           pkt.begin() + static_cast<std::ptrdiff_t>(unfrag + end));
    put16(f, 4, static_cast<unsigned>(f.size() - 40));
    out.push_back(std::move(f));
  }
  return out;
}

/// A raw IPv6 fragment (no other extension headers).
bytes v6_fragment(const char* src, std::uint32_t id, std::size_t offset, bool more, const bytes& data,
                  std::uint8_t nh = 17, const char* dst = "2001:db8::2") {
  bytes fh(8, 0);
  fh[0] = nh;
  put16(fh, 2, static_cast<unsigned>(offset) | (more ? 1u : 0u));
  put32(fh, 4, id);
  append(fh, data.begin(), data.end());
  return ipv6(44, src, dst, fh);
}

struct outcome {
  reassembly_status status = reassembly_status::not_a_fragment;
  drop_reason reason = drop_reason::none;
  bytes datagram;
};

outcome offer(reassembler& r, const bytes& frame, std::int64_t now, link_type lt = link_type::raw) {
  const auto span = std::as_bytes(std::span(frame));
  const parsed p = strata::packet::parse(span, lt);
  const reassembly_result res = r.offer(p, span, now);
  outcome o{res.status, res.reason, {}};
  const auto* d = reinterpret_cast<const std::uint8_t*>(res.datagram.data());
  o.datagram.assign(d, d + res.datagram.size());
  if (res.status == reassembly_status::completed) {
    EXPECT_FALSE(res.datagram.empty());
  } else {
    EXPECT_TRUE(res.datagram.empty());
  }
  return o;
}

parsed parse_ip(const bytes& b) { return strata::packet::parse(std::as_bytes(std::span(b)), link_type::raw); }

constexpr std::uint32_t A = 0xc0000201;  // 192.0.2.1
constexpr std::uint32_t B = 0x0a000002;  // 10.0.0.2

// ---------------------------------------------------------------------------------------------------
// IPv4

TEST(ReassemblyV4, InOrder) {
  reassembler r;
  const bytes orig = ipv4(17, A, B, 0x1234, udp(5000, 53, pattern(2992)));  // 3000 bytes of data
  const auto frags = fragment_v4(orig, {0, 1480, 2960});
  EXPECT_EQ(offer(r, frags[0], 0).status, reassembly_status::stored);
  EXPECT_EQ(offer(r, frags[1], ms(1)).status, reassembly_status::stored);
  EXPECT_GT(r.stats().bytes_in_use, 2960u);
  const outcome o = offer(r, frags[2], ms(2));
  ASSERT_EQ(o.status, reassembly_status::completed);
  EXPECT_EQ(o.datagram, orig);  // total length, flags, offset and checksum as before fragmentation
  const parsed p = parse_ip(o.datagram);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.l4, strata::packet::l4_kind::udp);
  EXPECT_EQ(p.src_port, 5000);
  EXPECT_EQ(p.dst_port, 53);
  EXPECT_EQ(p.payload_length, 2992u);
  EXPECT_FALSE(p.frag.is_fragment());
  const reassembly_stats st = r.stats();
  EXPECT_EQ(st.fragments, 3u);
  EXPECT_EQ(st.completed, 1u);
  EXPECT_EQ(st.bytes_in_use, 0u);
  EXPECT_EQ(st.datagrams_in_use, 0u);
  EXPECT_GE(st.peak_bytes, 2960u);
  EXPECT_EQ(r.size(), 0u);
}

TEST(ReassemblyV4, EveryArrivalOrderWithOptionsAndDf) {
  // IPv4 options (RFC 791: NOP, NOP, a 4-byte... here: two NOPs and end-of-list padding) and DF kept.
  const bytes opts = {1, 1, 1, 0};
  const bytes orig = ipv4(17, A, B, 77, udp(1, 2, pattern(992, 3)), opts, /*DF*/ 2);
  std::vector<bytes> frags = fragment_v4(orig, {0, 200, 400, 800});
  std::vector<std::size_t> order(frags.size());
  std::iota(order.begin(), order.end(), 0);
  int permutations = 0;
  do {
    reassembler r;
    for (std::size_t i = 0; i < order.size(); ++i) {
      const outcome o = offer(r, frags[order[i]], ms(static_cast<std::int64_t>(i)));
      if (i + 1 < order.size()) {
        ASSERT_EQ(o.status, reassembly_status::stored);
      } else {
        ASSERT_EQ(o.status, reassembly_status::completed);
        EXPECT_EQ(o.datagram, orig);
      }
    }
    EXPECT_EQ(r.stats().bytes_in_use, 0u);
    ++permutations;
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_EQ(permutations, 24);
}

TEST(ReassemblyV4, EthernetPaddingIsNotData) {
  // A 28-byte last fragment travels in a padded 60-byte Ethernet frame: the padding is not datagram data.
  const bytes orig = ipv4(17, A, B, 9, udp(7, 9, pattern(20)));  // 28 bytes of data
  const auto frags = fragment_v4(orig, {0, 16});
  reassembler r;
  auto eth = [](const bytes& ip) {
    bytes f = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00};
    append(f, ip.begin(), ip.end());
    f.resize(std::max<std::size_t>(f.size(), 60), 0xee);
    return f;
  };
  EXPECT_EQ(offer(r, eth(frags[1]), 0, link_type::ethernet).status, reassembly_status::stored);
  const outcome o = offer(r, eth(frags[0]), 0, link_type::ethernet);
  ASSERT_EQ(o.status, reassembly_status::completed);
  EXPECT_EQ(o.datagram, orig);
}

TEST(ReassemblyV4, DuplicatesAreIgnoredAndCounted) {
  reassembler r;
  const bytes orig = ipv4(17, A, B, 5, udp(1, 2, pattern(100)));
  const auto f = fragment_v4(orig, {0, 48, 96});
  EXPECT_EQ(offer(r, f[0], 0).status, reassembly_status::stored);
  EXPECT_EQ(offer(r, f[0], 1).status, reassembly_status::duplicate);
  EXPECT_EQ(offer(r, f[2], 2).status, reassembly_status::stored);
  EXPECT_EQ(offer(r, f[2], 3).status, reassembly_status::duplicate);  // the last one too
  const std::uint64_t held = r.stats().bytes_in_use;
  EXPECT_EQ(offer(r, f[0], 4).status, reassembly_status::duplicate);
  EXPECT_EQ(r.stats().bytes_in_use, held);  // a duplicate costs nothing
  const outcome o = offer(r, f[1], 5);
  ASSERT_EQ(o.status, reassembly_status::completed);
  EXPECT_EQ(o.datagram, orig);
  EXPECT_EQ(r.stats().duplicates, 3u);
  // After completion a copy starts a new datagram (the id may be reused), which never completes.
  EXPECT_EQ(offer(r, f[1], 6).status, reassembly_status::stored);
  EXPECT_EQ(r.size(), 1u);
}

TEST(ReassemblyV4, OverlapDropsTheWholeDatagram) {
  reassembler r;
  const bytes d = pattern(64);
  EXPECT_EQ(offer(r, v4_fragment(A, 1, 0, true, bytes(d.begin(), d.begin() + 16)), 0).status,
            reassembly_status::stored);
  EXPECT_EQ(offer(r, v4_fragment(A, 1, 32, true, bytes(d.begin() + 32, d.begin() + 48)), 0).status,
            reassembly_status::stored);
  // [8, 24) overlaps [0, 16).
  const outcome o = offer(r, v4_fragment(A, 1, 8, true, bytes(d.begin() + 8, d.begin() + 24)), 0);
  EXPECT_EQ(o.status, reassembly_status::dropped);
  EXPECT_EQ(o.reason, drop_reason::overlap);
  EXPECT_EQ(name(o.reason), "overlap");
  EXPECT_EQ(r.stats().dropped_overlap, 1u);
  EXPECT_EQ(r.stats().bytes_in_use, 0u);  // everything held for it is released
  EXPECT_EQ(r.size(), 0u);
  // Its remaining fragments start a new datagram, which then lacks the dropped pieces.
  EXPECT_EQ(offer(r, v4_fragment(A, 1, 48, false, bytes(d.begin() + 48, d.end())), 0).status,
            reassembly_status::stored);

  // Same offset and length, different bytes: not a duplicate but an overlap (RFC 5722).
  reassembler r2;
  bytes other = bytes(d.begin(), d.begin() + 16);
  other[3] ^= 0xff;
  offer(r2, v4_fragment(A, 2, 0, true, bytes(d.begin(), d.begin() + 16)), 0);
  EXPECT_EQ(offer(r2, v4_fragment(A, 2, 0, true, other), 0).reason, drop_reason::overlap);

  // A fragment inside another one, and one covering two others.
  reassembler r3;
  offer(r3, v4_fragment(A, 3, 0, true, pattern(64)), 0);
  EXPECT_EQ(offer(r3, v4_fragment(A, 3, 16, true, pattern(16)), 0).reason, drop_reason::overlap);
  offer(r3, v4_fragment(A, 4, 0, true, pattern(8)), 0);
  offer(r3, v4_fragment(A, 4, 16, true, pattern(8)), 0);
  EXPECT_EQ(offer(r3, v4_fragment(A, 4, 0, true, pattern(32)), 0).reason, drop_reason::overlap);
  EXPECT_EQ(r3.stats().dropped_overlap, 2u);
}

TEST(ReassemblyV4, FragmentsThatDisagreeOnTheEnd) {
  reassembler r;
  offer(r, v4_fragment(A, 1, 64, false, pattern(16)), 0);  // the datagram ends at 80
  EXPECT_EQ(offer(r, v4_fragment(A, 1, 80, true, pattern(16)), 0).reason, drop_reason::inconsistent_length);
  offer(r, v4_fragment(A, 2, 64, false, pattern(16)), 0);
  EXPECT_EQ(offer(r, v4_fragment(A, 2, 96, false, pattern(16)), 0).reason, drop_reason::inconsistent_length);
  offer(r, v4_fragment(A, 3, 64, true, pattern(16)), 0);  // data up to 80, but the last fragment ends at 32
  EXPECT_EQ(offer(r, v4_fragment(A, 3, 16, false, pattern(16)), 0).reason, drop_reason::inconsistent_length);
  EXPECT_EQ(r.stats().dropped_invalid, 3u);
  EXPECT_EQ(r.stats().bytes_in_use, 0u);
}

TEST(ReassemblyV4, TooLargeIsDropped) {
  reassembler r;
  // Offset 65528 (the largest the 13-bit field holds) + 16 bytes + a 20-byte header > 65535.
  offer(r, v4_fragment(A, 1, 0, true, pattern(1480)), 0);
  const outcome o = offer(r, v4_fragment(A, 1, 65528, false, pattern(16)), 0);
  EXPECT_EQ(o.status, reassembly_status::dropped);
  EXPECT_EQ(o.reason, drop_reason::too_large);
  EXPECT_EQ(r.stats().dropped_too_large, 1u);
  EXPECT_EQ(r.stats().bytes_in_use, 0u);  // the datagram it belonged to is gone
  // Exactly 65535: accepted. 20 + 65504 + 11 = 65535.
  reassembler ok;
  const bytes big = ipv4(17, A, B, 2, udp(1, 2, pattern(65535 - 28)));
  std::vector<std::size_t> starts;
  for (std::size_t o2 = 0; o2 < 65515; o2 += 1480) starts.push_back(o2);
  const auto frags = fragment_v4(big, starts);
  ASSERT_EQ(frags.size(), 45u);
  outcome last;
  for (const auto& f : frags) last = offer(ok, f, 0);
  ASSERT_EQ(last.status, reassembly_status::completed);
  EXPECT_EQ(last.datagram, big);
  // A smaller configured maximum.
  reassembler small{reassembly_limits{.max_datagram_size = 9000}};
  EXPECT_EQ(offer(small, v4_fragment(A, 1, 8968, false, pattern(8)), 0).status,
            reassembly_status::stored);  // 8996
  EXPECT_EQ(offer(small, v4_fragment(A, 2, 8976, false, pattern(8)), 0).reason,
            drop_reason::too_large);  // 9004
}

TEST(ReassemblyV4, InvalidFragments) {
  reassembler r;
  // A non-last fragment must carry a multiple of 8 bytes.
  EXPECT_EQ(offer(r, v4_fragment(A, 1, 0, true, pattern(12)), 0).reason, drop_reason::bad_length);
  EXPECT_EQ(offer(r, v4_fragment(A, 1, 8, true, bytes{}), 0).reason, drop_reason::bad_length);
  // A fragment cut by the snap length cannot be reassembled.
  const bytes f = v4_fragment(A, 2, 0, true, pattern(64));
  const auto span = std::as_bytes(std::span(f)).first(40);
  const parsed p = strata::packet::parse(span, link_type::raw, f.size());
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(p.captured_truncated);
  EXPECT_EQ(r.offer(p, span, 0).reason, drop_reason::truncated);
  EXPECT_EQ(r.stats().dropped_invalid, 3u);
  EXPECT_EQ(r.stats().bytes_in_use, 0u);
}

TEST(ReassemblyV4, NotFragments) {
  reassembler r;
  EXPECT_EQ(offer(r, ipv4(17, A, B, 1, udp(1, 2, pattern(10))), 0).status, reassembly_status::not_a_fragment);
  EXPECT_EQ(offer(r, ipv4(17, A, B, 1, udp(1, 2, pattern(10)), {}, 2), 0).status,
            reassembly_status::not_a_fragment);  // DF alone
  const parsed malformed = parse_ip(bytes{0x45, 0});
  EXPECT_TRUE(malformed.is_malformed());
  EXPECT_EQ(r.offer(malformed, {}, 0).status, reassembly_status::not_a_fragment);
  EXPECT_EQ(r.stats().fragments, 0u);
}

TEST(ReassemblyV4, KeyedOnAddressesProtocolAndId) {
  reassembler r;
  const bytes d = pattern(32);
  const bytes head(d.begin(), d.begin() + 16), tail(d.begin() + 16, d.end());
  offer(r, v4_fragment(A, 1, 0, true, head), 0);
  EXPECT_EQ(offer(r, v4_fragment(A, 2, 16, false, tail), 0).status, reassembly_status::stored);      // id
  EXPECT_EQ(offer(r, v4_fragment(A + 1, 1, 16, false, tail), 0).status, reassembly_status::stored);  // source
  EXPECT_EQ(offer(r, v4_fragment(A, 1, 16, false, tail, 6), 0).status,
            reassembly_status::stored);  // protocol
  EXPECT_EQ(offer(r, v4_fragment(A, 1, 16, false, tail, 17, B + 1), 0).status,
            reassembly_status::stored);  // dest
  EXPECT_EQ(r.size(), 5u);
  EXPECT_EQ(offer(r, v4_fragment(A, 1, 16, false, tail), 0).status, reassembly_status::completed);
}

TEST(ReassemblyV4, NeverCompletedTimesOutAfter30Seconds) {
  reassembler r;
  const std::int64_t t0 = sec(1000);
  offer(r, v4_fragment(A, 1, 0, true, pattern(800)), t0);
  offer(r, v4_fragment(A, 1, 808, false, pattern(8)), t0 + sec(10));  // the gap [800, 808) never arrives
  EXPECT_EQ(r.expire(t0 + sec(30) - 1), 0u);
  EXPECT_EQ(r.size(), 1u);
  EXPECT_EQ(r.expire(t0 + sec(30)), 1u);  // 30 s after the first-arriving fragment
  EXPECT_EQ(r.size(), 0u);
  const reassembly_stats st = r.stats();
  EXPECT_EQ(st.timed_out, 1u);
  EXPECT_EQ(st.completed, 0u);
  EXPECT_EQ(st.bytes_in_use, 0u);

  // A late fragment after the timeout starts over: the datagram does not complete.
  reassembler r2;
  const bytes orig = ipv4(17, A, B, 3, udp(1, 2, pattern(40)));
  const auto f = fragment_v4(orig, {0, 24});
  offer(r2, f[0], t0);
  EXPECT_EQ(offer(r2, f[1], t0 + sec(31)).status, reassembly_status::stored);
  EXPECT_EQ(r2.stats().timed_out, 1u);
  // Within the timeout it completes.
  offer(r2, f[0], t0 + sec(40));  // completes with the held f[1] (it arrived at t0 + 31 s)
  EXPECT_EQ(r2.stats().completed, 1u);
}

TEST(ReassemblyV4, TooManyFragments) {
  const bytes orig =
      ipv4(17, A, B, 8, udp(1, 2, pattern(65 * 8 - 8)));  // 520 bytes of data: 65 fragments of 8
  std::vector<std::size_t> starts;
  for (std::size_t o = 0; o < 520; o += 8) starts.push_back(o);
  const auto frags = fragment_v4(orig, starts);
  ASSERT_EQ(frags.size(), 65u);
  reassembler r;  // max_fragments 64
  for (std::size_t i = 1; i < 65; ++i) ASSERT_EQ(offer(r, frags[i], 0).status, reassembly_status::stored);
  const outcome o = offer(r, frags[0], 0);
  EXPECT_EQ(o.reason, drop_reason::too_many_fragments);
  EXPECT_EQ(r.stats().dropped_limits, 1u);
  EXPECT_EQ(r.stats().bytes_in_use, 0u);
  reassembler more{reassembly_limits{.max_fragments = 65}};
  outcome last;
  for (const auto& f : frags) last = offer(more, f, 0);
  ASSERT_EQ(last.status, reassembly_status::completed);
  EXPECT_EQ(last.datagram, orig);
}

TEST(ReassemblyV4, PoolExhaustionEvictsTheOldestDatagram) {
  // 16 blocks of 256 bytes. A 1480-byte first fragment takes 6 blocks of data + 1 for its header.
  reassembler r{
      reassembly_limits{.memory_bytes = 16 * 256, .per_host_bytes = 1 << 20, .per_host_datagrams = 100}};
  EXPECT_EQ(r.stats().memory_bytes, 4096u);
  const bytes a = ipv4(17, A, B, 1, udp(1, 2, pattern(1480 + 200)));
  const bytes b = ipv4(17, A, B, 2, udp(1, 2, pattern(1480 + 200)));
  const bytes c = ipv4(17, A, B, 3, udp(1, 2, pattern(1480 + 200)));
  const auto fa = fragment_v4(a, {0, 1480}), fb = fragment_v4(b, {0, 1480}), fc = fragment_v4(c, {0, 1480});
  EXPECT_EQ(offer(r, fa[0], 0).status, reassembly_status::stored);
  EXPECT_EQ(offer(r, fb[0], 1).status, reassembly_status::stored);
  EXPECT_EQ(r.stats().bytes_in_use, 14u * 256);
  // c needs 7 blocks, 2 are free: a (the oldest) is evicted.
  EXPECT_EQ(offer(r, fc[0], 2).status, reassembly_status::stored);
  EXPECT_EQ(r.stats().evicted, 1u);
  EXPECT_EQ(r.stats().dropped_limits, 1u);
  EXPECT_LE(r.stats().bytes_in_use, 4096u);
  // b and c complete; a's last fragment now waits alone.
  const outcome ob = offer(r, fb[1], 3);
  ASSERT_EQ(ob.status, reassembly_status::completed);
  EXPECT_EQ(ob.datagram, b);
  const outcome oc = offer(r, fc[1], 4);
  ASSERT_EQ(oc.status, reassembly_status::completed);
  EXPECT_EQ(oc.datagram, c);
  EXPECT_EQ(offer(r, fa[1], 5).status, reassembly_status::stored);
  EXPECT_LE(r.stats().peak_bytes, 4096u);
  // A datagram that alone needs more than the whole pool: nothing else to evict.
  // The datagrams already held are not evicted in vain.
  reassembler tiny{reassembly_limits{.memory_bytes = 4 * 256, .per_host_bytes = 1 << 20}};
  EXPECT_EQ(offer(tiny, v4_fragment(A, 50, 8, true, pattern(8)), 0).status, reassembly_status::stored);
  EXPECT_EQ(offer(tiny, fa[0], 0).reason, drop_reason::no_memory);
  EXPECT_EQ(tiny.stats().bytes_in_use, 256u);
  EXPECT_EQ(tiny.stats().evicted, 0u);
  EXPECT_EQ(tiny.size(), 1u);
}

TEST(ReassemblyV4, DatagramSlotsExhaustedEvictTheOldest) {
  reassembler r{reassembly_limits{.max_datagrams = 4, .per_host_datagrams = 8}};
  for (unsigned id = 1; id <= 4; ++id) offer(r, v4_fragment(A, id, 0, true, pattern(8)), id);
  EXPECT_EQ(r.size(), 4u);
  EXPECT_EQ(offer(r, v4_fragment(A, 5, 0, true, pattern(8)), 5).status, reassembly_status::stored);
  EXPECT_EQ(r.size(), 4u);
  EXPECT_EQ(r.stats().evicted, 1u);
  // Id 1 was the oldest: its last fragment finds nothing; id 2 still completes.
  EXPECT_EQ(offer(r, v4_fragment(A, 1, 8, false, pattern(8)), 6).status, reassembly_status::stored);
  EXPECT_EQ(offer(r, v4_fragment(A, 3, 8, false, pattern(8)), 7).status, reassembly_status::completed);
  EXPECT_EQ(r.stats().peak_datagrams, 4u);
}

TEST(ReassemblyV4, OneHostCannotTakeThePool) {
  // Pool of 64 blocks; one source may hold 16 of them and 4 datagrams.
  reassembler r{reassembly_limits{
      .max_datagrams = 32, .memory_bytes = 64 * 256, .per_host_bytes = 16 * 256, .per_host_datagrams = 4}};
  const std::uint32_t attacker = 0xcb007101, victim = 0xc6336401;
  // 1000-byte first fragments take 4 + 1 blocks: three fit in 16 blocks, the fourth does not.
  for (unsigned id = 1; id <= 3; ++id)
    EXPECT_EQ(offer(r, v4_fragment(attacker, id, 0, true, pattern(1000)), 0).status,
              reassembly_status::stored);
  const outcome o = offer(r, v4_fragment(attacker, 4, 0, true, pattern(1000)), 0);
  EXPECT_EQ(o.reason, drop_reason::host_limit);
  EXPECT_EQ(name(o.reason), "host_limit");
  EXPECT_EQ(r.stats().bytes_in_use, 15u * 256);
  // Small fragments: at most 4 datagrams per host.
  EXPECT_EQ(offer(r, v4_fragment(attacker, 5, 8, true, pattern(8)), 0).status, reassembly_status::stored);
  EXPECT_EQ(offer(r, v4_fragment(attacker, 6, 8, true, pattern(8)), 0).reason, drop_reason::host_limit);
  // Another host is unaffected.
  const bytes dg = ipv4(17, victim, B, 9, udp(1, 2, pattern(2000)));
  const auto f = fragment_v4(dg, {0, 1000});
  EXPECT_EQ(offer(r, f[0], 0).status, reassembly_status::stored);
  const outcome ok = offer(r, f[1], 0);
  ASSERT_EQ(ok.status, reassembly_status::completed);
  EXPECT_EQ(ok.datagram, dg);
  EXPECT_EQ(r.stats().dropped_limits, 2u);
}

TEST(ReassemblyV4, ForgetDropsADatagram) {
  reassembler r;
  const bytes f = v4_fragment(A, 1, 0, true, pattern(64));
  offer(r, f, 0);
  EXPECT_TRUE(r.forget(parse_ip(f)));
  EXPECT_FALSE(r.forget(parse_ip(f)));
  EXPECT_EQ(r.stats().forgotten, 1u);
  EXPECT_EQ(r.stats().bytes_in_use, 0u);
  EXPECT_EQ(r.size(), 0u);
}

// Issue 5: a fragment flood keeps reassembly memory under its bound. Two set-ups: the defaults (the
// 1024 datagram slots run out first) and many slots (the 4 MiB pool runs out first).
TEST(ReassemblyV4, FloodOfOneMillionFragmentsStaysInItsPool) {
  for (const reassembly_limits& limits : {reassembly_limits{}, reassembly_limits{.max_datagrams = 16384}}) {
    reassembler r{limits};
    const std::size_t pool = r.stats().memory_bytes;
    const std::size_t rss0 = resident_bytes();
    std::mt19937_64 rng(99);
    bytes frame = v4_fragment(A, 0, 0, true, pattern(1480));
    std::uint64_t whole = 0, stored = 0;
    for (int i = 0; i < 1'000'000; ++i) {
      const std::uint64_t x = rng();
      const std::size_t len = 8 * (1 + (x >> 8) % 185);  // 8..1480
      const std::size_t off = 8 * ((x >> 20) % 8000);    // up to 63992
      const bool more = (x >> 40) % 8 != 0;
      const std::uint32_t src = 0x64000000u | static_cast<std::uint32_t>((x >> 44) % 4096);  // 4096 hosts
      frame.resize(20 + len);
      put16(frame, 2, static_cast<unsigned>(20 + len));
      put16(frame, 4, static_cast<unsigned>(x & 0xff));
      put16(frame, 6, (more ? 0x2000u : 0u) | static_cast<unsigned>(off / 8));
      put32(frame, 12, src);
      const auto span = std::as_bytes(std::span(frame));
      const parsed p = strata::packet::parse(span, link_type::raw);
      const auto res = r.offer(p, span, std::int64_t{i} * 1000);
      whole += res.status == reassembly_status::not_a_fragment;  // offset 0 and MF clear: a whole packet
      stored += res.status == reassembly_status::stored;
      ASSERT_LE(r.stats().bytes_in_use, pool);
      ASSERT_LE(r.size(), limits.max_datagrams);
    }
    const std::size_t rss1 = resident_bytes();
    const reassembly_stats st = r.stats();
    EXPECT_LE(st.peak_bytes, pool);
    EXPECT_EQ(st.fragments + whole, 1'000'000u);
    EXPECT_GT(stored, 0u);
    EXPECT_GT(st.evicted, 0u);
    if (rss0 != 0) {
      EXPECT_LT(rss1, rss0 + (1u << 20)) << "resident memory grew during the flood";
    }
    std::cout << "[fragment flood] 1M fragments from 4096 hosts, " << limits.max_datagrams
              << " datagram slots: pool " << pool << " bytes, peak " << st.peak_bytes << ", peak datagrams "
              << st.peak_datagrams << ", evicted " << st.evicted << ", overlap " << st.dropped_overlap
              << ", too_large " << st.dropped_too_large << ", limits " << st.dropped_limits << ", invalid "
              << st.dropped_invalid << "; allocated at construction " << r.memory_bytes() << " bytes; RSS "
              << rss0 << " -> " << rss1 << "\n";
  }
}

// ---------------------------------------------------------------------------------------------------
// IPv6

const char* const S6 = "2001:db8::1";
const char* const D6 = "2001:db8::2";

TEST(ReassemblyV6, InOrderAndOutOfOrderWithExtensionHeaders) {
  // IPv6 | hop-by-hop (unfragmentable) | destination options (fragmentable) | UDP.
  const bytes fragmentable = [] {
    bytes b = ext(17, 1);  // 16-byte destination options header
    const bytes u = udp(4000, 4001, pattern(3000, 5));
    append(b, u.begin(), u.end());
    return b;
  }();
  bytes payload = ext(60, 0);  // 8-byte hop-by-hop, next: destination options
  append(payload, fragmentable.begin(), fragmentable.end());
  const bytes orig = ipv6(0, S6, D6, payload);
  // Per-fragment headers: IPv6 + hop-by-hop (48 bytes); the hop-by-hop's Next Header (offset 40) names
  // the first fragmentable header.
  const auto frags = fragment_v6(orig, 48, 40, 0xabcdef01, {0, 1232, 2464});
  for (const std::vector<std::size_t>& order :
       {std::vector<std::size_t>{0, 1, 2}, {2, 1, 0}, {1, 2, 0}, {2, 0, 1}}) {
    reassembler r;
    for (std::size_t i = 0; i < 3; ++i) {
      const outcome o = offer(r, frags[order[i]], sec(1));
      if (i < 2) {
        ASSERT_EQ(o.status, reassembly_status::stored);
        continue;
      }
      ASSERT_EQ(o.status, reassembly_status::completed);
      // The fragment header is gone, the payload length and hop-by-hop's Next Header are restored.
      EXPECT_EQ(o.datagram, orig);
      const parsed p = parse_ip(o.datagram);
      ASSERT_TRUE(p.ok());
      EXPECT_EQ(p.l4, strata::packet::l4_kind::udp);
      EXPECT_EQ(p.src_port, 4000);
      EXPECT_EQ(p.payload_length, 3000u);
      EXPECT_FALSE(p.frag.has_header);
      EXPECT_EQ(p.ipv6_extension_count, 2);
    }
    EXPECT_EQ(r.stats().bytes_in_use, 0u);
  }
}

TEST(ReassemblyV6, PlainHeaderNextHeaderIsRestored) {
  const bytes orig = ipv6(17, S6, D6, udp(1, 2, pattern(1000)));
  const auto f = fragment_v6(orig, 40, 6, 7, {0, 504});
  reassembler r;
  EXPECT_EQ(offer(r, f[1], 0).status, reassembly_status::stored);
  const outcome o = offer(r, f[0], 0);
  ASSERT_EQ(o.status, reassembly_status::completed);
  EXPECT_EQ(o.datagram, orig);
  EXPECT_EQ(o.datagram[6], 17);
  EXPECT_EQ(get16(o.datagram, 4), 1008u);
}

TEST(ReassemblyV6, OverlapDuplicateAndAtomicFragments) {
  reassembler r;
  const bytes d = pattern(64);
  EXPECT_EQ(offer(r, v6_fragment(S6, 1, 0, true, bytes(d.begin(), d.begin() + 32)), 0).status,
            reassembly_status::stored);
  EXPECT_EQ(offer(r, v6_fragment(S6, 1, 0, true, bytes(d.begin(), d.begin() + 32)), 0).status,
            reassembly_status::duplicate);
  // RFC 5722: an overlapping fragment discards the datagram.
  const outcome o = offer(r, v6_fragment(S6, 1, 24, true, bytes(d.begin() + 24, d.begin() + 40)), 0);
  EXPECT_EQ(o.reason, drop_reason::overlap);
  EXPECT_EQ(r.stats().dropped_overlap, 1u);
  EXPECT_EQ(r.stats().duplicates, 1u);
  EXPECT_EQ(r.size(), 0u);
  // RFC 6946: an atomic fragment (offset 0, M = 0) is not reassembled.
  const bytes atomic = v6_fragment(S6, 2, 0, false, udp(1, 2, pattern(10)));
  const parsed p = parse_ip(atomic);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p.frag.has_header);
  EXPECT_EQ(offer(r, atomic, 0).status, reassembly_status::not_a_fragment);
  // Keyed on addresses and identification only: the Next Header of later fragments does not matter.
  offer(r, v6_fragment(S6, 3, 0, true, udp(5, 6, pattern(8))), 0);
  EXPECT_EQ(offer(r, v6_fragment(S6, 3, 16, false, pattern(8), 6), 0).status, reassembly_status::completed);
}

TEST(ReassemblyV6, TooLargeAndBadLength) {
  reassembler r;
  // Payload length of the reassembled packet would be 65528 + 16 > 65535.
  EXPECT_EQ(offer(r, v6_fragment(S6, 1, 65528, false, pattern(16)), 0).reason, drop_reason::too_large);
  EXPECT_EQ(offer(r, v6_fragment(S6, 1, 65520, false, pattern(15)), 0).status,
            reassembly_status::stored);  // 65535
  // RFC 8200: M = 1 and a length that is not a multiple of 8.
  EXPECT_EQ(offer(r, v6_fragment(S6, 2, 0, true, pattern(20)), 0).reason, drop_reason::bad_length);
  EXPECT_EQ(r.stats().dropped_too_large, 1u);
  EXPECT_EQ(r.stats().dropped_invalid, 1u);
}

TEST(ReassemblyV6, FirstFragmentMustHoldTheHeaderChain) {
  // RFC 8200 §4.5 / RFC 7112: the first fragment carries a 16-byte destination options header cut after
  // 8 bytes: the upper-layer header is not in it.
  bytes data = ext(17, 1);
  data.resize(8);
  const bytes f = v6_fragment(S6, 1, 0, true, data, 60);
  const parsed p = parse_ip(f);
  ASSERT_TRUE(p.ok());
  reassembler r;
  EXPECT_EQ(offer(r, f, 0).reason, drop_reason::incomplete_header);
  EXPECT_EQ(r.stats().dropped_invalid, 1u);
}

TEST(ReassemblyV6, TimesOutAfter60Seconds) {
  reassembler r;
  offer(r, v6_fragment(S6, 1, 0, true, pattern(64)), sec(5));
  offer(r, v4_fragment(A, 1, 0, true, pattern(64)), sec(5));
  EXPECT_EQ(r.expire(sec(35)), 1u);  // the IPv4 one (30 s)
  EXPECT_EQ(r.size(), 1u);
  EXPECT_EQ(r.expire(sec(65) - 1), 0u);
  EXPECT_EQ(r.expire(sec(65)), 1u);  // RFC 8200: 60 s after the first-arriving fragment
  EXPECT_EQ(r.stats().timed_out, 2u);
  EXPECT_EQ(r.stats().bytes_in_use, 0u);
}

TEST(ReassemblyV6, PerHostShare) {
  reassembler r{reassembly_limits{.memory_bytes = 64 * 256, .per_host_bytes = 8 * 256}};
  EXPECT_EQ(offer(r, v6_fragment(S6, 1, 0, true, pattern(1232)), 0).status,
            reassembly_status::stored);  // 5 + 1 blocks
  EXPECT_EQ(offer(r, v6_fragment(S6, 2, 0, true, pattern(1232)), 0).reason, drop_reason::host_limit);
  EXPECT_EQ(offer(r, v6_fragment("2001:db8::99", 2, 0, true, pattern(1232)), 0).status,
            reassembly_status::stored);
}

// ---------------------------------------------------------------------------------------------------
// Real captures (shared/captures): expected values from tcpdump's decoding of each fragment (offsets,
// lengths, ids) and from the MANIFEST, never from this reassembler.

#if defined(STRATA_HAVE_PCAP)

std::filesystem::path captures_dir() { return std::filesystem::path(STRATA_SHARED_DIR) / "captures"; }

struct capture_run {
  std::vector<bytes> completed;  // in capture order
  std::uint64_t not_fragments = 0;
  std::uint64_t frames = 0;
  reassembly_stats stats{};
  std::size_t pending = 0;
  std::uint64_t timed_out_at_end = 0;
};

capture_run reassemble_capture(const std::string& name) {
  capture_run run;
  auto file = strata::io::pcap_reader::open(captures_dir() / name);
  EXPECT_TRUE(file.has_value()) << (file ? "" : file.error().what());
  if (!file) return run;
  reassembler r;
  std::int64_t last = 0;
  for (const strata::io::frame& f : *file) {
    ++run.frames;
    const parsed p = strata::packet::parse(f.data, file->link_type(), f.wire_length);
    last = f.time.time_since_epoch().count();
    const reassembly_result res = r.offer(p, f.data, last);
    EXPECT_NE(res.status, reassembly_status::dropped)
        << name << " frame " << f.index << ": " << res.reason_text();
    if (res.status == reassembly_status::not_a_fragment) ++run.not_fragments;
    if (res.status == reassembly_status::completed) {
      const auto* d = reinterpret_cast<const std::uint8_t*>(res.datagram.data());
      run.completed.emplace_back(d, d + res.datagram.size());
    }
  }
  run.stats = r.stats();
  run.pending = r.size();
  run.timed_out_at_end = r.expire(last + sec(3600));
  return run;
}

#define STRATA_NEED_CAPTURE(name)                                     \
  if (!std::filesystem::exists(captures_dir() / (name))) {            \
    GTEST_SKIP() << "no capture " << (captures_dir() / (name))        \
                 << " (set STRATA_SHARED_DIR to the shared/ folder)"; \
  }                                                                   \
  static_assert(true)

TEST(ReassemblyCaptures, PcapPlusPlusIpv4Fragments) {
  // Six NFS WRITE calls (ids 7840..7845), 10.118.213.212:789 -> 10.118.213.211:2049, each fragmented at
  // 1480-byte offsets 0..7400 with a 920-byte last piece: 8320 bytes of UDP. Ids 7843..7845 were
  // captured twice (tcpdump: 12 repeated fragments); the repeats of 7843's and 7844's last fragment
  // arrive after their datagram completed and start datagrams that never complete.
  STRATA_NEED_CAPTURE("pcapplusplus__ip4_fragments.pcap");
  const capture_run run = reassemble_capture("pcapplusplus__ip4_fragments.pcap");
  EXPECT_EQ(run.frames, 53u);
  EXPECT_EQ(run.not_fragments, 3u);  // the NFS replies
  ASSERT_EQ(run.completed.size(), 6u);
  for (std::size_t i = 0; i < run.completed.size(); ++i) {
    const bytes& d = run.completed[i];
    const parsed p = parse_ip(d);
    ASSERT_TRUE(p.ok()) << i;
    EXPECT_EQ(get16(d, 4), 7840 + i);
    EXPECT_EQ(d.size(), 20u + 8320u);
    EXPECT_EQ(get16(d, 2), 20u + 8320u);
    EXPECT_EQ(p.l4, strata::packet::l4_kind::udp);
    EXPECT_EQ(p.src, address::from_v4(0x0a76d5d4));
    EXPECT_EQ(p.dst, address::from_v4(0x0a76d5d3));
    EXPECT_EQ(p.src_port, 789);
    EXPECT_EQ(p.dst_port, 2049);
    EXPECT_EQ(get16(d, 20 + 4), 8320u);  // UDP length = the rebuilt payload
    EXPECT_EQ(p.payload_length, 8312u);
    EXPECT_EQ(inet_checksum(d.data(), 20), 0);  // a valid header checksum
  }
  EXPECT_EQ(run.stats.duplicates, 12u);
  EXPECT_EQ(run.pending, 2u);
  EXPECT_EQ(run.timed_out_at_end, 2u);
}

TEST(ReassemblyCaptures, PcapPlusPlusIpv6Fragments) {
  // Four UDP datagrams in 120-byte pieces: two mDNS (5353 -> 5353, to ff02::fb) of 741 and 1452 bytes
  // and two WS-Discovery (60245 -> 3702, to ff02::c) of 1003 and 786 bytes. Each carries 4 bytes past
  // its UDP length (737, 1448, 999, 782: tcpdump's "UDP, length 991" and "774" plus the 8-byte header).
  STRATA_NEED_CAPTURE("pcapplusplus__ip6_fragments.pcap");
  const capture_run run = reassemble_capture("pcapplusplus__ip6_fragments.pcap");
  EXPECT_EQ(run.frames, 36u);
  ASSERT_EQ(run.completed.size(), 4u);
  const unsigned payload[] = {741, 1452, 1003, 786};
  const unsigned udp_len[] = {737, 1448, 999, 782};
  const unsigned sport[] = {5353, 5353, 60245, 60245};
  const unsigned dport[] = {5353, 5353, 3702, 3702};
  const char* dst[] = {"ff02::fb", "ff02::fb", "ff02::c", "ff02::c"};
  for (std::size_t i = 0; i < 4; ++i) {
    const bytes& d = run.completed[i];
    const parsed p = parse_ip(d);
    ASSERT_TRUE(p.ok()) << i << ": " << p.malformed.reason;
    EXPECT_EQ(d.size(), 40u + payload[i]);
    EXPECT_EQ(get16(d, 4), payload[i]);
    EXPECT_EQ(d[6], 17);
    EXPECT_EQ(p.dst, *strata::parse_address(dst[i]));
    EXPECT_EQ(p.src_port, sport[i]);
    EXPECT_EQ(p.dst_port, dport[i]);
    EXPECT_EQ(get16(d, 40 + 4), udp_len[i]);
  }
  EXPECT_EQ(run.pending, 0u);
  EXPECT_EQ(run.stats.duplicates, 0u);
}

TEST(ReassemblyCaptures, ChrisSandersIpv6Fragments) {
  // Five ICMPv6 echo requests 2001:db8:1:2::1003 -> ::1000 (1448 + 60 bytes) and their replies
  // (1288 + 220 bytes): 1508 bytes of ICMPv6 each, identifier 59968, sequence 1..5.
  STRATA_NEED_CAPTURE("chrissanders__ipv6_fragments.pcapng");
  const capture_run run = reassemble_capture("chrissanders__ipv6_fragments.pcapng");
  EXPECT_EQ(run.frames, 22u);
  EXPECT_EQ(run.not_fragments, 2u);  // neighbour solicitation and advertisement
  ASSERT_EQ(run.completed.size(), 10u);
  for (std::size_t i = 0; i < 10; ++i) {
    const parsed p = parse_ip(run.completed[i]);
    ASSERT_TRUE(p.ok()) << i;
    EXPECT_EQ(p.l4, strata::packet::l4_kind::icmpv6);
    EXPECT_EQ(p.icmp.type, i % 2 == 0 ? 128 : 129);
    EXPECT_EQ(p.icmp.id, 59968);
    EXPECT_EQ(p.icmp.seq, i / 2 + 1);
    EXPECT_EQ(get16(run.completed[i], 4), 1508u);
    EXPECT_EQ(p.src, *strata::parse_address(i % 2 == 0 ? "2001:db8:1:2::1003" : "2001:db8:1:2::1000"));
  }
}

TEST(ReassemblyCaptures, NdpiFragmentedDns) {
  // DNS answers from port 53, in capture order: IPv4 id 53502 (1480 + 230), IPv6 (1448 + 61), IPv6
  // (1448 + 50), IPv4 57873 (1480 + 18), IPv4 35132 (1480 + 230), IPv6 (1432 + 306), IPv4 56485 (1480 + 258).
  STRATA_NEED_CAPTURE("ndpi__dns_fragmented.pcap");
  const capture_run run = reassemble_capture("ndpi__dns_fragmented.pcap");
  EXPECT_EQ(run.frames, 66u);
  ASSERT_EQ(run.completed.size(), 7u);
  const family fam[] = {family::v4, family::v6, family::v6, family::v4, family::v4, family::v6, family::v4};
  const unsigned udp_len[] = {1710, 1509, 1498, 1498, 1710, 1738, 1738};
  for (std::size_t i = 0; i < 7; ++i) {
    const bytes& d = run.completed[i];
    const parsed p = parse_ip(d);
    ASSERT_TRUE(p.ok()) << i;
    EXPECT_EQ(p.fam, fam[i]) << i;
    EXPECT_EQ(p.l4, strata::packet::l4_kind::udp);
    EXPECT_EQ(p.src_port, 53);
    const std::size_t hl = fam[i] == family::v4 ? 20 : 40;
    EXPECT_EQ(d.size(), hl + udp_len[i]) << i;
    EXPECT_EQ(get16(d, hl + 4), udp_len[i]) << i;  // the UDP length matches the rebuilt payload
  }
  EXPECT_EQ(run.pending, 0u);
  EXPECT_EQ(run.not_fragments, 66u - 14u);
}

TEST(ReassemblyCaptures, ZeekAtomicFragmentsAreNotReassembled) {
  // Five IPv6 packets carry a fragment header with offset 0 and M = 0 (RFC 6946): each is whole.
  STRATA_NEED_CAPTURE("zeek__ipv6-http-atomic-frag.pcap");
  const capture_run run = reassemble_capture("zeek__ipv6-http-atomic-frag.pcap");
  EXPECT_EQ(run.frames, 38u);
  EXPECT_EQ(run.not_fragments, 38u);
  EXPECT_EQ(run.completed.size(), 0u);
  EXPECT_EQ(run.stats.fragments, 0u);
  EXPECT_EQ(run.pending, 0u);
}

TEST(ReassemblyCaptures, ChrisSandersIpv4IcmpFragments) {
  // An ICMP echo request 10.10.0.3 -> 192.168.0.128 (id 1, seq 57) and its reply, each 1480 + 1480 + 548
  // bytes: 3508 bytes of ICMP.
  STRATA_NEED_CAPTURE("chrissanders__ip_frag_source.pcapng");
  const capture_run run = reassemble_capture("chrissanders__ip_frag_source.pcapng");
  ASSERT_EQ(run.completed.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    const parsed p = parse_ip(run.completed[i]);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p.l4, strata::packet::l4_kind::icmp);
    EXPECT_EQ(p.icmp.type, i == 0 ? 8 : 0);
    EXPECT_EQ(p.icmp.id, 1);
    EXPECT_EQ(p.icmp.seq, 57);
    EXPECT_EQ(get16(run.completed[i], 2), 20u + 3508u);
  }
}

TEST(ReassemblyCaptures, SuricataTinyFragments) {
  // IPv4: a TCP SYN 1.1.1.1:12345 -> 2.2.2.2:8080 whose 24 bytes of TCP come in three 8-byte fragments.
  // IPv6: a TCP segment ::1:12345 -> ::1:8080 in 440 + 440 + 140 bytes (20 of them the TCP header).
  const std::string v4 =
      "suricata-verify__tests_defrag_bug-6887-defrag-eth-vlan-ipv4-tcp-syn_frag-eth-vlan-ip-tcp-syn.pcap";
  const std::string v6 =
      "suricata-verify__tests_defrag_bug-6887-defrag-eth-vlan-ipv6-tcp_frag-eth-vlan-ipv6-tcp.pcap";
  STRATA_NEED_CAPTURE(v4);
  const capture_run a = reassemble_capture(v4);
  ASSERT_EQ(a.completed.size(), 1u);
  const parsed p = parse_ip(a.completed[0]);
  ASSERT_TRUE(p.ok()) << p.malformed.reason;
  EXPECT_EQ(p.l4, strata::packet::l4_kind::tcp);
  EXPECT_EQ(p.src_port, 12345);
  EXPECT_EQ(p.dst_port, 8080);
  EXPECT_TRUE(p.tcp.is_syn());
  EXPECT_EQ(a.completed[0].size(), 44u);
  STRATA_NEED_CAPTURE(v6);
  const capture_run b = reassemble_capture(v6);
  ASSERT_EQ(b.completed.size(), 1u);
  const parsed q = parse_ip(b.completed[0]);
  ASSERT_TRUE(q.ok()) << q.malformed.reason;
  EXPECT_EQ(q.l4, strata::packet::l4_kind::tcp);
  EXPECT_EQ(q.src_port, 12345);
  EXPECT_EQ(q.dst_port, 8080);
  EXPECT_EQ(get16(b.completed[0], 4), 1020u);
  EXPECT_EQ(q.payload_length, 1000u);
}

#else
TEST(ReassemblyCaptures, NeedLibpcap) {
  GTEST_SKIP() << "built without libpcap (strata::pcap): real captures not read";
}
#endif

}  // namespace
