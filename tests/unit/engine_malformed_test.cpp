// Malformed input through the whole engine (issue 5, items 3 and 5), the engine-level companion of
// packet_parse_test's parser sweeps: every frame of every real capture (shared/captures and the
// project's demo capture) under several observed hosts and every policy; real frames truncated at every
// header byte; every length/offset field set to 0, too small, too large and maximal; IPv6 extension
// chains of pathological length; fragments that overlap, exceed 64 KiB or never complete.
//
// For every frame: exactly one record, for that frame; the counters add up (frames = malformed +
// permitted + blocked); a malformed record carries the parser's reason and no steps; every other IP
// record has a trace, unless it is one of the frames the engine classifies without layers (a forwarded
// packet's departing copy, a suppressed stack answer, an outbound later fragment sharing its
// datagram's verdict). The checks are tests/fuzz/harness.hpp's, shared with the fuzz targets.
// strata-needs: pcap
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <strata/flow/answers.hpp>
#include <strata/io/pcap_file.hpp>
#include <strata/packet/parse.hpp>

#include "unit/hostile_frames.hpp"

namespace {

using namespace hostile;
using strata::address;
using strata::family;
using strata::packet::l4_kind;
using strata::packet::link_type;
using strata::packet::parsed;

struct capture {
  std::string name;
  link_type lt = link_type::ethernet;
  std::vector<bytes> frames;
  std::vector<std::uint32_t> wire;
  std::vector<std::int64_t> times;
};

capture load(const std::filesystem::path& p) {
  capture c;
  c.name = p.filename().string();
  auto file = strata::io::pcap_reader::open(p);
  EXPECT_TRUE(file.has_value()) << (file ? "" : file.error().what());
  if (!file) return c;
  c.lt = file->link_type();
  for (const strata::io::frame& f : *file) {
    const auto* d = reinterpret_cast<const std::uint8_t*>(f.data.data());
    c.frames.emplace_back(d, d + f.data.size());
    c.wire.push_back(f.wire_length);
    c.times.push_back(f.time.time_since_epoch().count());
  }
  EXPECT_FALSE(file->failed()) << c.name;
  return c;
}

parsed parse(const bytes& b, link_type lt, std::uint32_t wire = 0) {
  return strata::packet::parse(
      std::span<const std::byte>(reinterpret_cast<const std::byte*>(b.data()), b.size()), lt, wire);
}

#define STRATA_NEED_CAPTURES()                        \
  if (!std::filesystem::is_directory(captures_dir())) \
  GTEST_SKIP() << "no captures at " << captures_dir() << " (set STRATA_SHARED_DIR to the shared/ folder)"

/// What the tests counted, printed at the end of each (the README's RELIABILITY figures).
struct tally {
  std::uint64_t frames = 0, malformed = 0, traced = 0, no_steps = 0;
  std::map<std::string, std::uint64_t> reasons;
  void print(const char* what) const {
    std::cout << "[ " << what << " ] " << frames << " frames: " << malformed << " malformed (with a reason), "
              << traced << " traced, " << no_steps
              << " IP records without layers (dup/suppressed/later outbound fragment)\n";
  }
};

/// The harness engine's policy with MAC-layer filters (every frame visits those layers first).
constexpr std::uint8_t mac_policy = 3;

/// An engine that checks every record it returns.
class checked_engine {
 public:
  checked_engine(const strata::host& h, strata::engine_config cfg,
                 strata::flow::answer_index* answers = nullptr)
      : e_(std::make_unique<strata_fuzz::engine_type>(h, cfg)), host_(h), lt_(cfg.link) {
    if (answers) e_->use_answers(answers);
  }
  strata_fuzz::engine_type& engine() { return *e_; }

  /// Classifies one frame and checks the record; `ctx` names the frame in failures.
  strata::record classify(const bytes& b, std::int64_t t, std::uint32_t wire, tally& n,
                          const std::string& ctx) {
    const auto before = e_->counters();
    const strata::record r = e_->classify(frame_of(b, t, ++index_, wire));
    ++n.frames;
    if (const char* bad = strata_fuzz::check_record(*e_, r, before, index_))
      ADD_FAILURE() << bad << ": " << ctx;
    const parsed p = parse(b, lt_, wire);
    if (p.is_malformed()) {
      ++n.malformed;
      ++n.reasons[std::string(p.malformed.reason)];
      if (r.error != p.malformed.reason || r.error_stage != p.malformed.stage)
        ADD_FAILURE() << "malformed frame, record says '" << r.error << "' not '" << p.malformed.reason
                      << "': " << ctx;
    } else if (r.malformed()) {  // only a datagram this frame completed can be malformed
      ++n.malformed;
      ++n.reasons["reassembled: " + std::string(r.error)];
      if (!r.reassembled)
        ADD_FAILURE() << "a well-formed frame's record carries '" << r.error << "': " << ctx;
    } else if (p.ok()) {
      if (r.steps.size() > 0) {
        ++n.traced;
      } else {
        ++n.no_steps;
        const bool later_outbound_fragment =
            p.frag.is_later() &&
            (r.dir == strata::traffic_direction::outbound || r.dir == strata::traffic_direction::loopback);
        if (!r.dup && !r.suppressed && !later_outbound_fragment)
          ADD_FAILURE() << "an IP record without layers (dir " << strata::name(r.dir) << "): " << ctx;
      }
      if (r.dir != host_.direction(p.src, p.dst, p.fam))
        ADD_FAILURE() << "direction differs from the host's: " << ctx;
    } else if ((r.steps.size() != 0 && r.policy != mac_policy) || r.dir != strata::traffic_direction::none) {
      ADD_FAILURE() << "a frame that is not IP has a direction, or steps besides the MAC layers: " << ctx;
    }
    return r;
  }
  std::uint64_t classified() const { return index_; }

 private:
  std::unique_ptr<strata_fuzz::engine_type> e_;
  strata::host host_;
  link_type lt_;
  std::uint64_t index_ = 0;
};

/// The observed host for a capture: none (everything forwarded), its first IP frame's destination
/// (that frame is inbound), or its source (outbound).
strata::host host_for(const capture& c, int mode) {
  strata::host h;
  if (mode == 0) return h;
  for (std::size_t i = 0; i < c.frames.size(); ++i) {
    const parsed p = parse(c.frames[i], c.lt, c.wire[i]);
    if (!p.ok()) continue;
    h.add_local(strata_fuzz::host_prefix(mode == 1 ? p.dst : p.src, p.fam));
    break;
  }
  if (mode == 3) {  // the demo capture's host
    for (const char* a : {"10.99.1.2", "10.99.2.1", "fd99:1::2", "fd99:2::1"}) h.add_local(a);
  }
  return h;
}

// ---- item 5: every real capture -------------------------------------------------------------------------

TEST(EngineCaptures, EveryFrameOfEveryCaptureIsAccountedFor) {
  STRATA_NEED_CAPTURES();
  const auto files = capture_files();
  ASSERT_FALSE(files.empty());
  tally n;
  for (const auto& path : files) {
    const capture c = load(path);
    SCOPED_TRACE(c.name);
    for (int mode : {0, 1, 2, 3}) {
      const strata::host h = host_for(c, mode);
      for (std::size_t policy = 0; policy < strata_fuzz::engine_type::policy_count; ++policy) {
        strata::flow::answer_index answers;  // the listener inference's pre-pass, as strata-classify does
        for (std::size_t i = 0; i < c.frames.size(); ++i)
          answers.add(parse(c.frames[i], c.lt, c.wire[i]), h, i + 1, c.times[i]);
        checked_engine e(h, {.link = c.lt}, &answers);
        e.engine().select(policy);
        for (std::size_t i = 0; i < c.frames.size(); ++i)
          e.classify(c.frames[i], c.times[i], c.wire[i], n,
                     c.name + " frame " + std::to_string(i + 1) + " host " + std::to_string(mode) +
                         " policy " + std::to_string(policy));
        const auto& k = e.engine().counters();
        EXPECT_EQ(k.frames, c.frames.size());
        EXPECT_EQ(k.malformed + k.permitted + k.blocked, k.frames);
        EXPECT_EQ(k.malformed, 0u) << "real captures hold no malformed frame (nor reassemble into one)";
      }
    }
  }
  n.print("captures");
  EXPECT_EQ(n.malformed, 0u);
  EXPECT_GT(n.frames, 20000u);
}

// ---- item 3: real frames truncated at every header byte
// ----------------------------------------------------

TEST(EngineMalformed, RealFramesTruncatedAtEveryHeaderByte) {
  STRATA_NEED_CAPTURES();
  tally n;
  std::uint64_t cuts = 0;
  for (const auto& path : capture_files()) {
    const capture c = load(path);
    checked_engine e(host_for(c, 1), {.link = c.lt});
    for (std::size_t i = 0; i < c.frames.size(); ++i) {
      const bytes& f = c.frames[i];
      // Every cut inside the first 160 bytes (link, IP, extension and transport headers, ICMP quotes),
      // every 32nd past them.
      for (std::size_t len = 0; len < f.size(); len += len < 160 ? 1 : 32) {
        const bytes cut(f.begin(),
                        f.begin() + static_cast<std::ptrdiff_t>(len));  // exact size: ASan sees overreads
        const std::string ctx = c.name + " frame " + std::to_string(i + 1) + " cut at " + std::to_string(len);
        e.classify(cut, c.times[i], 0, n, ctx);  // as a complete (short) frame
        e.classify(cut, c.times[i], c.wire[i] ? c.wire[i] : static_cast<std::uint32_t>(f.size()), n,
                   ctx + " (snapped)");  // as a snap-length prefix of the original
        ++cuts;
      }
    }
    const auto& k = e.engine().counters();
    EXPECT_EQ(k.frames, e.classified());
    EXPECT_EQ(k.malformed + k.permitted + k.blocked, k.frames);
  }
  n.print("truncation");
  std::cout << "[ truncation ] " << cuts
            << " cuts, each as a complete frame and as a snapped one; reasons:\n";
  for (const auto& [r, k] : n.reasons) std::cout << "    " << k << "  " << r << "\n";
  EXPECT_GT(cuts, 100000u);
  EXPECT_GT(n.malformed, 10000u);
}

// ---- item 3: every length and offset field at 0, too small, too large and maximal ------------------------

struct field_case {
  const char* what;
  std::size_t at;  // byte offset in the frame
  unsigned width;  // 1 or 2 bytes; 0: the high nibble of one byte
  std::vector<unsigned> values;
};

void set_field(bytes& b, const field_case& f, unsigned v) {
  if (f.width == 0)
    b[f.at] = static_cast<std::uint8_t>((b[f.at] & 0x0f) | ((v & 0x0f) << 4));
  else if (f.width == 1)
    b[f.at] = static_cast<std::uint8_t>(v);
  else
    put16(b, f.at, v & 0xffff);
}
// IPv4's IHL is the low nibble of its first byte.
void set_ihl(bytes& b, std::size_t at, unsigned v) { b[at] = static_cast<std::uint8_t>(0x40 | (v & 0x0f)); }

unsigned get16(const bytes& b, std::size_t at) { return (unsigned{b[at]} << 8) | b[at + 1]; }

TEST(EngineMalformed, LengthFieldsZeroTooSmallTooLargeMaximal) {
  STRATA_NEED_CAPTURES();
  tally n;
  std::map<std::string, std::uint64_t> tried, malformed;
  for (const auto& path : capture_files()) {
    const capture c = load(path);
    checked_engine e(host_for(c, 1), {.link = c.lt});
    for (std::size_t i = 0; i < c.frames.size(); ++i) {
      const bytes& f = c.frames[i];
      const parsed r = parse(f, c.lt, c.wire[i]);
      if (!r.ok()) continue;
      const std::string ctx = c.name + " frame " + std::to_string(i + 1);
      std::vector<field_case> cases;
      const std::size_t l3 = r.l3_offset, l4 = r.l4_offset;
      if (r.fam == family::v4) {
        const unsigned hl = r.ip_header_length / 4u, total = get16(f, l3 + 2);
        cases.push_back({"ipv4 ihl", l3, 99, {0, 4, hl + 1, 15}});
        cases.push_back({"ipv4 total length", l3 + 2, 2, {0, r.ip_header_length - 1u, total + 1, 0xffff}});
      } else {
        const unsigned plen = get16(f, l3 + 4);
        cases.push_back({"ipv6 payload length", l3 + 4, 2, {0, plen ? plen - 1 : 0, plen + 1, 0xffff}});
        std::uint8_t nh = f[l3 + 6];
        std::size_t off = l3 + 40;
        for (unsigned k = 0; k < r.ipv6_extension_count && off + 2 <= f.size(); ++k) {
          if (nh == 44) {  // a fragment header has no length field
            nh = f[off];
            off += 8;
            continue;
          }
          const unsigned len = f[off + 1];
          cases.push_back({"ipv6 extension length", off + 1, 1, {0, len ? len - 1 : 0, len + 1, 0xff}});
          const std::size_t bytes_len = nh == 51 ? (len + 2u) * 4 : (len + 1u) * 8;
          nh = f[off];
          off += bytes_len;
        }
      }
      if (r.l4 == l4_kind::tcp)
        cases.push_back({"tcp data offset", l4 + 12, 0, {0, 4, r.tcp.header_length / 4u + 1, 15}});
      if (r.l4 == l4_kind::udp) {
        const unsigned len = get16(f, l4 + 4);
        cases.push_back({"udp length", l4 + 4, 2, {0, 7, len + 1, 0xffff}});
      }
      if (r.is_icmp_error() && r.icmp.embedded.fam == family::v4 && r.icmp.embedded.offset + 4 <= f.size()) {
        const std::size_t q = r.icmp.embedded.offset;
        cases.push_back({"icmp quoted ipv4 ihl", q, 99, {0, 4, (f[q] & 0x0fu) + 1, 15}});
        cases.push_back({"icmp quoted ipv4 total length", q + 2, 2, {0, 19, get16(f, q + 2) + 1, 0xffff}});
      }
      if (r.is_icmp_error() && r.icmp.embedded.fam == family::v6 && r.icmp.embedded.offset + 6 <= f.size()) {
        const std::size_t q = r.icmp.embedded.offset;
        cases.push_back({"icmp quoted ipv6 payload length", q + 4, 2, {0, 1, get16(f, q + 4) + 1, 0xffff}});
      }
      for (const field_case& fc : cases) {
        if (fc.at + (fc.width == 2 ? 2 : 1) > f.size()) continue;
        for (unsigned v : fc.values) {
          bytes g = f;
          if (fc.width == 99)
            set_ihl(g, fc.at, v);
          else
            set_field(g, fc, v);
          const std::uint64_t before = n.malformed;
          e.classify(g, c.times[i], c.wire[i], n, ctx + " " + fc.what + " = " + std::to_string(v));
          ++tried[fc.what];
          malformed[fc.what] += n.malformed - before;
        }
      }
    }
    const auto& k = e.engine().counters();
    EXPECT_EQ(k.malformed + k.permitted + k.blocked, k.frames);
  }
  n.print("length fields");
  std::uint64_t all = 0;
  for (const auto& [what, k] : tried) {
    std::cout << "[ length fields ] " << what << ": " << k << " variants, " << malformed[what]
              << " malformed\n";
    all += k;
  }
  std::cout << "[ length fields ] " << all << " variants in all\n";
  for (const char* what :
       {"ipv4 ihl", "ipv4 total length", "ipv6 payload length", "ipv6 extension length", "tcp data offset",
        "udp length", "icmp quoted ipv4 ihl", "icmp quoted ipv6 payload length"})
    EXPECT_GT(tried[what], 0u) << what;
  // Values that can never be right: an IHL or TCP data offset below 5 always makes the frame malformed.
  EXPECT_EQ(malformed["icmp quoted ipv4 ihl"], 0u) << "a broken quote never makes the outer packet malformed";
}

// ---- item 3: IPv6 extension-header chains of pathological length
// ---------------------------------------------

TEST(EngineMalformed, Ipv6ExtensionChainsOfPathologicalLength) {
  const address src = *strata::parse_address("2001:db8::9"), dst = *strata::parse_address("2001:db8::1");
  strata::host h;
  ASSERT_TRUE(h.add_local("2001:db8::1"));
  checked_engine e(h, {});
  tally n;
  std::int64_t t = strata_fuzz::base_time_ns;
  std::map<std::string, int> outcomes;
  // k destination-options headers (8 bytes each) before UDP; the chain limit, the 64 KiB payload limit.
  for (std::size_t k : {1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 255, 256, 257, 1000, 8000}) {
    bytes payload;
    for (std::size_t i = 0; i < k; ++i) {
      const bytes h8 = {static_cast<std::uint8_t>(i + 1 < k ? 60 : 17), 0, 1, 4, 0, 0, 0, 0};  // PadN
      payload.insert(payload.end(), h8.begin(), h8.end());
    }
    const bytes u = udp(4000, 53, 4);
    payload.insert(payload.end(), u.begin(), u.end());
    if (payload.size() > 0xffff) payload.resize(0xffff);
    const bytes frame = ipv6(src, dst, 60, payload);
    const auto r = e.classify(frame, t += 1000, 0, n, "chain of " + std::to_string(k));
    ++outcomes[r.malformed() ? std::string(r.error) : "classified"];
    // The same chain cut short of its UDP header, and with its first length byte at 255.
    bytes cut = frame;
    cut.resize(frame.size() - 6);
    put16(cut, 14 + 4, static_cast<unsigned>(cut.size() - 54));
    e.classify(cut, t += 1000, 0, n, "chain of " + std::to_string(k) + " cut");
    bytes longer = frame;
    longer[14 + 40 + 1] = 0xff;
    e.classify(longer, t += 1000, 0, n, "chain of " + std::to_string(k) + " length 255");
  }
  // A hop-by-hop header that is not first; two fragment headers; an AH with length 0.
  const bytes bad_hbh = ipv6(src, dst, 60, {0, 0, 1, 4, 0, 0, 0, 0, 17, 0, 1, 4, 0, 0, 0, 0});
  EXPECT_EQ(e.classify(bad_hbh, t += 1000, 0, n, "hop-by-hop second").error,
            "IPv6 hop-by-hop header not first");
  const bytes two_frag = ipv6(src, dst, 44, frag6(44, 0, true, 1, frag6(17, 0, true, 1, udp(1, 2, 8))));
  EXPECT_TRUE(e.classify(two_frag, t += 1000, 0, n, "two fragment headers").malformed());
  const bytes ah0 = ipv6(src, dst, 51, {17, 0, 0, 0, 0, 0, 1, 0});
  e.classify(ah0, t += 1000, 0, n, "AH length 0");
  for (const auto& [what, k] : outcomes) std::cout << "[ ipv6 chains ] " << k << "  " << what << "\n";
  EXPECT_GT(outcomes["IPv6 extension header chain too long"], 0);
  EXPECT_GT(outcomes["classified"], 0);
  n.print("ipv6 chains");
}

// ---- item 3: fragments that overlap, exceed 64 KiB or never complete
// -----------------------------------------

TEST(EngineMalformed, FragmentsThatOverlapExceed64KiBOrNeverComplete) {
  strata::host h;
  ASSERT_TRUE(h.add_local("10.0.0.1"));
  ASSERT_TRUE(h.add_local("2001:db8::1"));
  checked_engine e(h, {});
  tally n;
  std::int64_t t = strata_fuzz::base_time_ns;
  const std::uint32_t src = v4(192, 0, 2, 5), dst = v4(10, 0, 0, 1);
  const auto frag = [&](std::uint16_t id, unsigned offset_units, bool more, const bytes& data) {
    return ipv4(src, dst, 17, data, id, static_cast<std::uint16_t>((more ? 0x2000 : 0) | offset_units));
  };
  std::uint64_t frames = 0;
  const auto send = [&](const bytes& b, const std::string& what) {
    ++frames;
    return e.classify(b, t += 1000, 0, n, what);
  };
  const auto& rs = [&] { return e.engine().reassembly().stats(); };

  // Overlap: [0,16) [8,24): the datagram is dropped; its last fragment then starts a new one.
  send(frag(1, 0, true, udp(1, 2, 8)), "overlap a");
  send(frag(1, 1, true, bytes(16, 1)), "overlap b");
  EXPECT_EQ(rs().dropped_overlap, 1u);
  EXPECT_FALSE(send(frag(1, 3, false, bytes(8, 2)), "overlap c").reassembled);

  // Past 64 KiB: the largest offset (8191 * 8 = 65528) with 16 bytes of data.
  send(frag(2, 0, true, udp(1, 2, 8)), "big a");
  send(frag(2, 8191, false, bytes(16, 3)), "big b");
  EXPECT_EQ(rs().dropped_too_large, 1u);

  // Exact duplicates are ignored; then the datagram completes once.
  send(frag(3, 0, true, udp(1, 2, 8)), "dup a");
  send(frag(3, 0, true, udp(1, 2, 8)), "dup a again");
  EXPECT_EQ(rs().duplicates, 1u);
  EXPECT_TRUE(send(frag(3, 2, false, bytes(8, 4)), "dup b").reassembled);

  // Disagreeing ends: two last fragments ending at different places.
  send(frag(4, 2, false, bytes(8, 5)), "end a");
  send(frag(4, 3, false, bytes(8, 5)), "end b");
  EXPECT_GE(rs().dropped_invalid, 1u);

  // Never completing: 5000 first fragments from 500 sources, then 31 s of silence: all time out.
  const auto timed_out = rs().timed_out;
  for (std::uint32_t i = 0; i < 5000; ++i) {
    const bytes b = ipv4(v4(198, 51, 100, 0) + i % 500, dst, 17, udp(1, 2, 8),
                         static_cast<std::uint16_t>(100 + i), 0x2000);
    send(b, "incomplete " + std::to_string(i));
  }
  EXPECT_LE(rs().datagrams_in_use, e.engine().reassembly().limits().max_datagrams);
  t += 31'000'000'000;
  send(frag(5, 0, false, udp(1, 2, 8)), "after the silence");  // not a fragment: expiry runs per fragment
  send(frag(6, 0, true, udp(1, 2, 8)), "a fragment after the silence");
  EXPECT_GT(rs().timed_out + rs().evicted, timed_out);

  // IPv6: overlapping fragments and a later fragment past 64 KiB.
  const address s6 = *strata::parse_address("2001:db8::5"), d6 = *strata::parse_address("2001:db8::1");
  send(ipv6(s6, d6, 44, frag6(17, 0, true, 9, udp(1, 2, 8))), "v6 overlap a");
  send(ipv6(s6, d6, 44, frag6(17, 8, true, 9, bytes(16, 1))), "v6 overlap b");
  send(ipv6(s6, d6, 44, frag6(17, 0, true, 10, udp(1, 2, 8))), "v6 too large a");
  send(ipv6(s6, d6, 44, frag6(17, 65528, false, 10, bytes(16, 1))), "v6 too large b");
  EXPECT_GE(rs().dropped_overlap, 2u);

  const auto& k = e.engine().counters();
  EXPECT_EQ(k.frames, frames);
  EXPECT_EQ(k.malformed + k.permitted + k.blocked, k.frames);
  EXPECT_LE(rs().peak_bytes, rs().memory_bytes);
  n.print("fragments");
}

}  // namespace
