// Every finding of the fuzz targets (tests/fuzz, issue 5) as a regression test: the crashing input
// (or a hand-made equivalent) as bytes, replayed through the same harness, and the behaviour the fix
// chose, checked. Run under ASan + UBSan by scripts/test's sanitizer build, where the original bugs
// were reported. tests/fuzz/README.md lists the findings.
#include <gtest/gtest.h>

#include <strata/flow/answers.hpp>
#include <strata/flow/reassembly.hpp>
#include <strata/io/format.hpp>

#include "unit/hostile_frames.hpp"

#if defined(STRATA_HAVE_PCAP)
#include <strata/io/pcap_file.hpp>
#endif

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace hostile;
using strata::address;
using strata::family;

constexpr std::int64_t t0 = strata_fuzz::base_time_ns;
constexpr std::int64_t max_ns = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t min_ns = std::numeric_limits<std::int64_t>::min();

std::string describe(const char* failure) { return failure ? failure : ""; }

// ---- the harnesses themselves ---------------------------------------------------------------------

TEST(FuzzHarness, EmptyAndTinyInputs) {
  const std::uint8_t none[1] = {0};
  for (std::size_t n = 0; n <= 1; ++n) {
    EXPECT_EQ(describe(strata_fuzz::one_frame(none, n)), "");
    EXPECT_EQ(describe(strata_fuzz::frame_sequence(none, n)), "");
    EXPECT_EQ(describe(strata_fuzz::address_text(none, n)), "");
  }
  for (unsigned lt = 0; lt < 10; ++lt) {
    for (unsigned opt : {0u, 0x03u, 0x4fu, 0xffu}) {
      const std::uint8_t two[2] = {static_cast<std::uint8_t>(lt), static_cast<std::uint8_t>(opt)};
      EXPECT_EQ(describe(strata_fuzz::one_frame(two, 2)), "") << lt << " " << opt;
    }
  }
}

TEST(FuzzHarness, SequenceFormatSplitsFramesAndTime) {
  // [link][host][config] then [len lo][len hi][dt][ctl][bytes]: 3 frames, the last one's length
  // runs past the input and is cut to what remains.
  const std::vector<std::uint8_t> in = {0, 1, 0,                      //
                                        2, 0, 5,   0x00, 0xaa, 0xbb,  // 5 ms, 2 bytes
                                        1, 0, 130, 0xc1, 0xcc,        // +2 s, select 1, snapped +1+64
                                        9, 0, 255, 0x00, 0xdd};       // -1 s, 1 byte (cut)
  const auto frames = strata_fuzz::split_sequence(in.data(), in.size());
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].bytes.size(), 2u);
  EXPECT_EQ(frames[0].time_ns, t0 + 5'000'000);
  EXPECT_EQ(frames[1].time_ns, t0 + 5'000'000 + 2'000'000'000);
  EXPECT_EQ(frames[1].select, 1);
  EXPECT_EQ(frames[1].wire_length, 1u + 1 + 64);
  EXPECT_EQ(frames[2].bytes.size(), 1u);
  EXPECT_EQ(frames[2].time_ns, t0 + 5'000'000 + 1'000'000'000);
  EXPECT_EQ(describe(strata_fuzz::frame_sequence(in.data(), in.size())), "");
}

// ---- finding 1 (fuzz_pcap_reader): a pcapng timestamp beyond 64-bit nanoseconds ----------------------
//
// pcap_reader::next() computed seconds * 10^9 in std::chrono and overflowed (UBSan: signed integer
// overflow in chrono.h) on a pcapng file whose interface states a coarse timestamp resolution
// (if_tsresol) or whose timestamp is simply huge: the fuzzer got there by shuffling the options of a
// real capture's interface block. Fixed: pcap_reader::to_timestamp saturates to the timestamp range.

#if defined(STRATA_HAVE_PCAP)

void le16(std::vector<std::uint8_t>& b, unsigned v) {
  b.push_back(static_cast<std::uint8_t>(v));
  b.push_back(static_cast<std::uint8_t>(v >> 8));
}
void le32(std::vector<std::uint8_t>& b, std::uint32_t v) {
  le16(b, v & 0xffff);
  le16(b, v >> 16);
}

/// A pcapng file (section header, one Ethernet interface with if_tsresol = `tsresol`, and one enhanced
/// packet block per timestamp, each holding `frame`).
std::vector<std::uint8_t> pcapng(std::uint8_t tsresol, const std::vector<std::uint64_t>& stamps,
                                 const bytes& frame) {
  std::vector<std::uint8_t> b;
  le32(b, 0x0a0d0d0a), le32(b, 28), le32(b, 0x1a2b3c4d), le16(b, 1), le16(b, 0), le32(b, 0xffffffff),
      le32(b, 0xffffffff), le32(b, 28);
  // Interface description: link type 1, snap length 65535, option if_tsresol (9), end of options.
  le32(b, 1), le32(b, 32), le16(b, 1), le16(b, 0), le32(b, 65535);
  le16(b, 9), le16(b, 1), b.push_back(tsresol), b.push_back(0), b.push_back(0), b.push_back(0);
  le32(b, 0), le32(b, 32);
  const std::size_t padded = (frame.size() + 3) / 4 * 4;
  for (std::uint64_t ts : stamps) {
    const auto total = static_cast<std::uint32_t>(32 + padded);
    le32(b, 6), le32(b, total), le32(b, 0), le32(b, static_cast<std::uint32_t>(ts >> 32)),
        le32(b, static_cast<std::uint32_t>(ts)), le32(b, static_cast<std::uint32_t>(frame.size())),
        le32(b, static_cast<std::uint32_t>(frame.size()));
    b.insert(b.end(), frame.begin(), frame.end());
    b.insert(b.end(), padded - frame.size(), 0);
    le32(b, total);
  }
  return b;
}

std::filesystem::path write_temp(const std::vector<std::uint8_t>& b, const std::string& name) {
  const auto p = std::filesystem::temp_directory_path() / ("strata-" + std::to_string(getpid()) + "-" + name);
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  return p;
}

TEST(FuzzFindings, PcapngTimestampsBeyondNanosecondRangeSaturate) {
  const bytes udp_frame = ipv4(v4(10, 0, 0, 9), v4(10, 0, 0, 1), 17, udp(5353, 53, 4));
  // if_tsresol 0: units of 10^0 = 1 second. 2^40 s and 2^63 s do not fit in int64 nanoseconds; 1e9 s does.
  const std::vector<std::uint64_t> stamps = {std::uint64_t{1} << 40, std::uint64_t{1} << 63, 1'000'000'000};
  const auto path = write_temp(pcapng(0, stamps, udp_frame), "ts.pcapng");
  {
    auto file = strata::io::pcap_reader::open(path);
    ASSERT_TRUE(file.has_value()) << file.error().what();
    std::vector<std::int64_t> times;
    for (const strata::io::frame& f : *file) times.push_back(f.time.time_since_epoch().count());
    EXPECT_FALSE(file->failed());
    ASSERT_EQ(times.size(), 3u);
    EXPECT_EQ(times[0], max_ns);  // saturated, not wrapped
    EXPECT_EQ(times[2], 1'000'000'000'000'000'000);
    // 2^63 units do not fit in libpcap's signed tv_sec either: saturated at one end or the other.
    EXPECT_TRUE(times[1] == max_ns || times[1] == min_ns) << times[1];
  }
  // The whole harness (the fuzz target's view): every frame classified, every invariant kept.
  EXPECT_EQ(describe(strata_fuzz::capture_file(path)), "");
  std::filesystem::remove(path);
}

TEST(FuzzFindings, PcapTimestampConversionSaturates) {
  using strata::io::pcap_reader;
  EXPECT_EQ(pcap_reader::to_timestamp(1'700'000'000, 123).time_since_epoch().count(),
            1'700'000'000'000'000'123);
  EXPECT_EQ(pcap_reader::to_timestamp(-5, 0).time_since_epoch().count(), -5'000'000'000);
  EXPECT_EQ(pcap_reader::to_timestamp(9'223'372'036, 854'775'807).time_since_epoch().count(), max_ns);
  EXPECT_EQ(pcap_reader::to_timestamp(9'223'372'036, 854'775'808).time_since_epoch().count(), max_ns);
  EXPECT_EQ(pcap_reader::to_timestamp(9'223'372'037, 0).time_since_epoch().count(), max_ns);
  EXPECT_EQ(pcap_reader::to_timestamp(std::numeric_limits<std::int64_t>::max(), 999'999'999)
                .time_since_epoch()
                .count(),
            max_ns);
  EXPECT_EQ(pcap_reader::to_timestamp(-9'223'372'037, 0).time_since_epoch().count(), min_ns);
  EXPECT_EQ(pcap_reader::to_timestamp(std::numeric_limits<std::int64_t>::min(), 0).time_since_epoch().count(),
            min_ns);
}

#endif  // STRATA_HAVE_PCAP

// ---- finding 2 (fuzz_pcap_reader): a reassembled datagram that does not parse -----------------------
//
// The engine reassembled two IPv4 fragments whose first one's UDP header states a length past the
// datagram. The datagram is malformed ("UDP length exceeds IP packet"); the record said so, but the
// engine counted the frame as permitted: frames != malformed + permitted + blocked in --summary
// terms, and `malformed` under-counted. Fixed: such a record is counted malformed (and marked
// reassembled: its own headers are fine, the datagram it completed is not).

TEST(FuzzFindings, ReassembledDatagramThatDoesNotParseIsCountedMalformed) {
  strata::host h;
  ASSERT_TRUE(h.add_local("10.0.0.1"));
  strata_fuzz::engine_type e{h};
  bytes first_udp = udp(4000, 53, 8);
  put16(first_udp, 4, 0xffff);  // UDP length: past the whole datagram (24 bytes)
  const bytes f1 = ipv4(v4(192, 0, 2, 7), v4(10, 0, 0, 1), 17, first_udp, 77, 0x2000);  // offset 0, MF
  const bytes f2 = ipv4(v4(192, 0, 2, 7), v4(10, 0, 0, 1), 17, bytes(8, 0x55), 77, 2);  // offset 16, last
  std::vector<strata::record> records;
  for (const bytes* b : {&f1, &f2}) {
    const auto before = e.counters();
    records.push_back(
        e.classify(frame_of(*b, t0 + 1000 * static_cast<std::int64_t>(records.size()), records.size() + 1)));
    EXPECT_EQ(describe(strata_fuzz::check_record(e, records.back(), before, records.size())), "");
  }
  EXPECT_FALSE(records[0].malformed());
  EXPECT_GT(records[0].steps.size(), 0u);  // the first fragment visited the fragment layers
  EXPECT_TRUE(records[1].malformed());
  EXPECT_EQ(records[1].error, "UDP length exceeds IP packet");
  EXPECT_EQ(records[1].error_stage, strata::packet::parse_stage::udp);
  EXPECT_TRUE(records[1].reassembled);
  EXPECT_EQ(records[1].steps.size(), 0u);
  const auto& c = e.counters();
  EXPECT_EQ(c.frames, 2u);
  EXPECT_EQ(c.malformed, 1u);
  EXPECT_EQ(c.permitted + c.blocked, 1u);
  EXPECT_EQ(e.reassembly().stats().completed, 1u);
}

// ---- finding 3 (fuzz_engine_sequence): a capture clock at the end of the timestamp range -----------
//
// A fragment at time INT64_MAX: the reassembler's deadline (now + 60 s) overflowed (UBSan, reassembly.hpp).
// The same family of bug, found by reading the code the finding pointed at: a datagram flow's idle check
// (now - last_seen) overflowed when the clock jumped to INT64_MIN, and so did the listener inference's
// delay (answer time - packet time). Fixed: the deadline saturates; the other two compare before they
// subtract (a clock that went backwards never expires a flow, as in flow_table's expiry).

// The fuzzer's input, minimized: an Ethernet IPv6 first fragment at time INT64_MAX (dt 254, ctl 0).
const std::uint8_t sequence_at_end_of_time[] = {
    0x00, 0x01, 0xff, 0xb6, 0x00, 0xfe, 0x00, 0x33, 0x33, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x08, 0x74, 0x38,
    0x01, 0xb4, 0x86, 0xdd, 0x60, 0x00, 0x00, 0x00, 0x00, 0x18, 0x2c, 0x01, 0xfe, 0x80, 0x00, 0x20, 0x76,
    0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x3d, 0x22, 0x31, 0x2e, 0x70, 0x3a, 0x2f, 0x2f, 0x77, 0x77, 0x77,
    0x2e, 0x77, 0x33, 0x2e, 0x6f, 0x72, 0x67, 0x2f, 0x32, 0x30, 0x30, 0x33, 0x2f, 0x30, 0x35, 0x2f, 0x73,
    0x50, 0x77, 0x2e, 0x77, 0x77, 0x2e, 0x77, 0x33, 0x2e, 0x6f, 0x72, 0x67, 0x2f, 0x32, 0x30, 0x65, 0x50};

TEST(FuzzFindings, SequenceAtTheEndOfTime) {
  const auto frames = strata_fuzz::split_sequence(sequence_at_end_of_time, sizeof sequence_at_end_of_time);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].time_ns, max_ns);
  EXPECT_EQ(describe(strata_fuzz::frame_sequence(sequence_at_end_of_time, sizeof sequence_at_end_of_time)),
            "");
}

TEST(FuzzFindings, ReassemblyDeadlineSaturatesAtTheEndOfTime) {
  strata::flow::reassembler r;
  const address src = address::from_v4(v4(192, 0, 2, 1)), dst = address::from_v4(v4(10, 0, 0, 1));
  const bytes first = ipv4(src.v4(), dst.v4(), 17, udp(1, 2, 8), 9, 0x2000);
  const bytes last = ipv4(src.v4(), dst.v4(), 17, bytes(8, 1), 9, 2);
  const auto p1 = strata::packet::parse(frame_of(first, 0, 1), strata::packet::link_type::ethernet);
  const auto p2 = strata::packet::parse(frame_of(last, 0, 2), strata::packet::link_type::ethernet);
  const auto span = [](const bytes& b) {
    return std::span<const std::byte>(reinterpret_cast<const std::byte*>(b.data()), b.size());
  };
  EXPECT_EQ(r.offer(p1, span(first), max_ns - 5).status, strata::flow::reassembly_status::stored);
  EXPECT_EQ(r.expire(max_ns - 1), 0u);  // the deadline is the end of time, not a wrapped past
  EXPECT_EQ(r.offer(p2, span(last), max_ns - 1).status, strata::flow::reassembly_status::completed);
  // And at the other end: a datagram started at INT64_MIN times out 30 s later, as any other.
  EXPECT_EQ(r.offer(p1, span(first), min_ns).status, strata::flow::reassembly_status::stored);
  EXPECT_EQ(r.expire(min_ns + 29'000'000'000), 0u);
  EXPECT_EQ(r.expire(min_ns + 30'000'000'000), 1u);
}

TEST(FuzzFindings, DatagramFlowSurvivesAClockJumpToTheStartOfTime) {
  strata::host h;
  ASSERT_TRUE(h.add_local("10.0.0.1"));
  strata_fuzz::engine_type e{h};
  const bytes q = ipv4(v4(10, 0, 0, 1), v4(192, 0, 2, 53), 17, udp(5000, 53, 4));  // outbound query
  const bytes a = ipv4(v4(192, 0, 2, 53), v4(10, 0, 0, 1), 17, udp(53, 5000, 4));  // its answer
  std::uint64_t index = 0;
  for (const auto& [b, t] :
       {std::pair{&q, t0}, std::pair{&a, min_ns}, std::pair{&a, max_ns}, std::pair{&q, min_ns}}) {
    const auto before = e.counters();
    const auto rec = e.classify(frame_of(*b, t, ++index));
    EXPECT_EQ(describe(strata_fuzz::check_record(e, rec, before, index)), "") << index;
  }
  // The answer at INT64_MIN (the clock went backwards) found the flow alive; at INT64_MAX it had idled out.
  EXPECT_EQ(e.flows().stats().inserted, 2u);
  EXPECT_EQ(e.counters().frames, 4u);
}

TEST(FuzzFindings, ListenerInferenceAtBothEndsOfTime) {
  strata::flow::answer_index answers;
  strata::host h;
  ASSERT_TRUE(h.add_local("10.0.0.1"));
  // The host answers a SYN to port 81 with a RST at time INT64_MAX.
  const bytes rst =
      ipv4(v4(10, 0, 0, 1), v4(192, 0, 2, 9), 6, tcp(81, 40000, tcp_flags::rst | tcp_flags::ack));
  answers.add(strata::packet::parse(frame_of(rst, 0, 2), strata::packet::link_type::ethernet), h, 2, max_ns);
  const address local = address::from_v4(v4(10, 0, 0, 1)), remote = address::from_v4(v4(192, 0, 2, 9));
  // A SYN at INT64_MIN: the answer is far more than 5 s later (no overflow, no match).
  EXPECT_FALSE(answers.answered(family::v4, 6, local, 81, remote, 40000, 1, min_ns));
  EXPECT_TRUE(answers.answered(family::v4, 6, local, 81, remote, 40000, 1, max_ns - 1'000'000'000));
  EXPECT_TRUE(answers.answered(family::v4, 6, local, 81, remote, 40000, 1, max_ns));
}

// ---- finding 5 (fuzz_engine_sequence): a suppressed answer after a policy switch ---------------------
//
// A UDP datagram to a closed port under the stealth policy: its ICMPv6 port unreachable is suppressed by
// the filter "stealth-udp-v6" (index 3 of stealth). The policy is switched to observe (no filters), then
// the answer arrives: the record took filter index 3 from the suppression but named it from the policy in
// force, observe, whose filter array is empty (UBSan: reference binding to null pointer; a read out of
// bounds). Under another policy it named the wrong filter. The same held for a later outbound fragment,
// which shares the verdict decided for its datagram before the switch. Fixed: those records name their
// filter from the policy that decided, filter_name()/sublayer_name() return nothing for an index the
// policy does not have, and the formatters print the record's own name.

// The fuzzer's input, minimized.
const std::uint8_t suppressed_answer_after_switch[] = {
    0x00, 0x7e, 0x55, 0x56, 0x00, 0x00, 0x00, 0x02, 0x99, 0x01, 0x00, 0x00, 0x01, 0x02, 0x99, 0x01, 0x00,
    0x00, 0x02, 0x86, 0xdd, 0x60, 0x0f, 0x6c, 0x69, 0x00, 0x20, 0x06, 0x3f, 0xfd, 0x99, 0x00, 0x02, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xfd, 0x99, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x1f, 0x90, 0xb4, 0x64, 0x39, 0x0f, 0x87,
    0x6f, 0x4a, 0x3f, 0x00, 0x0a, 0x80, 0x11, 0x00, 0x3f, 0xab, 0xe6, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a,
    0xd8, 0x8d, 0x28, 0x95, 0x31, 0x35, 0x33, 0x0a, 0x68, 0x00, 0x80, 0x00, 0x02, 0x99, 0x01, 0x00, 0x00,
    0x02, 0x02, 0x99, 0x01, 0x00, 0x00, 0x01, 0x86, 0xdd, 0x60, 0x08, 0xa5, 0x1f, 0x00, 0x32, 0x11, 0x40,
    0xfd, 0x99, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xfd,
    0x99, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xb4, 0x77,
    0x27, 0x0f, 0x00, 0x32, 0xd7, 0x25, 0x73, 0x74, 0x72, 0x61, 0x74, 0x61, 0x20, 0x75, 0x64, 0x70, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xfd, 0x99, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xb4, 0x77, 0x27, 0x0f, 0xd7, 0xae, 0x57, 0x0a, 0x98, 0x00, 0x00,
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x01, 0x02, 0x99, 0x01, 0x00, 0x00, 0x02, 0x86, 0xdd, 0x60, 0x05,
    0x6d, 0x62, 0x00, 0x62, 0x3a, 0x3f, 0xfd, 0x99, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x02, 0xfd, 0x99, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x01, 0x01, 0x04, 0xec, 0xcf, 0x00, 0x00, 0x00, 0x00, 0x60, 0x08, 0xa5, 0x1f, 0x00,
    0x32, 0x11, 0x3f, 0xfd, 0x99, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x01, 0xfd, 0x99, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x02, 0xb4, 0x77, 0x27, 0x0f,
};

TEST(FuzzFindings, SuppressedAnswerAfterAPolicySwitchIsNamedFromItsPolicy) {
  EXPECT_EQ(describe(strata_fuzz::frame_sequence(suppressed_answer_after_switch,
                                                 sizeof suppressed_answer_after_switch)),
            "");
  // By hand: a SYN to a closed port under stealth, then the switch, then the host's RST.
  strata::host h;
  ASSERT_TRUE(h.add_local("10.0.0.1"));
  ASSERT_TRUE(h.add_hint({6, 81, false}));  // nobody listens on tcp/81
  for (std::size_t after : {0u, 2u, 3u}) {  // observe (no filters), server (11), mac (3)
    strata_fuzz::engine_type e{h};
    e.select(1);  // stealth
    const bytes syn = ipv4(v4(192, 0, 2, 9), v4(10, 0, 0, 1), 6, tcp(40000, 81, tcp_flags::syn));
    const bytes rst =
        ipv4(v4(10, 0, 0, 1), v4(192, 0, 2, 9), 6, tcp(81, 40000, tcp_flags::rst | tcp_flags::ack, 0, 1));
    const auto r1 = e.classify(frame_of(syn, t0, 1));
    ASSERT_EQ(r1.filter_name, "stealth-tcp-v4");
    e.select(after);
    const auto before = e.counters();
    const auto r2 = e.classify(frame_of(rst, t0 + 1000, 2));
    EXPECT_EQ(describe(strata_fuzz::check_record(e, r2, before, 2)), "");
    EXPECT_TRUE(r2.suppressed);
    EXPECT_EQ(r2.policy, after);  // the policy in force
    EXPECT_EQ(r2.filter_name, "stealth-tcp-v4") << "after switching to policy " << after;
    EXPECT_EQ(r2.sublayer_name, "stealth");
    std::string json, text;
    strata::io::append_json<strata_fuzz::engine_type>(json, r2);
    strata::io::append_text<strata_fuzz::engine_type>(text, r2);
    EXPECT_NE(json.find("\"filter\":\"stealth-tcp-v4\""), std::string::npos) << json;
    EXPECT_NE(text.find("suppressed by stealth/stealth-tcp-v4"), std::string::npos) << text;
  }
}

TEST(FuzzFindings, LaterFragmentAfterAPolicySwitchIsNamedFromItsPolicy) {
  strata::host h;
  ASSERT_TRUE(h.add_local("10.0.0.1"));
  strata_fuzz::engine_type e{h};
  e.select(3);  // mac: outbound UDP to port 9 is blocked at ALE_AUTH_CONNECT by "no-udp-discard" (index 2)
  const bytes first = ipv4(v4(10, 0, 0, 1), v4(192, 0, 2, 9), 17, udp(5000, 9, 8), 55, 0x2000);
  const bytes later = ipv4(v4(10, 0, 0, 1), v4(192, 0, 2, 9), 17, bytes(8, 7), 55, 2);
  const auto r1 = e.classify(frame_of(first, t0, 1));
  ASSERT_TRUE(r1.blocked());
  ASSERT_EQ(r1.filter_name, "no-udp-discard");
  e.select(0);  // observe: no filters at all
  const auto before = e.counters();
  const auto r2 = e.classify(frame_of(later, t0 + 1000, 2));
  EXPECT_EQ(describe(strata_fuzz::check_record(e, r2, before, 2)), "");
  EXPECT_TRUE(r2.blocked());  // shares its datagram's verdict
  EXPECT_EQ(r2.filter_name, "no-udp-discard");
  EXPECT_EQ(strata_fuzz::engine_type::filter_name(0, 2), "");  // an index observe does not have
  EXPECT_EQ(strata_fuzz::engine_type::sublayer_name(0, 5), "");
}

}  // namespace
