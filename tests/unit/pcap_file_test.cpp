// strata::io::pcap_reader / pcap_writer: opening errors, every shared capture read completely, cut captures,
// round trips through the writer, and use as a C++20 and range-v3 input range.
#include <gtest/gtest.h>

#if defined(STRATA_HAVE_PCAP)

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ranges>
#include <string>
#include <vector>

#include <range/v3/range/concepts.hpp>
#include <range/v3/view/filter.hpp>
#include <range/v3/view/take.hpp>
#include <range/v3/view/transform.hpp>

#include <strata/io/frame.hpp>
#include <strata/io/pcap_file.hpp>
#include <strata/packet/parse.hpp>

namespace {

namespace fs = std::filesystem;
using strata::io::frame;
using strata::io::pcap_reader;
using strata::io::pcap_writer;
using strata::packet::link_type;

static_assert(std::input_iterator<pcap_reader::iterator>);
static_assert(std::sentinel_for<std::default_sentinel_t, pcap_reader::iterator>);
static_assert(std::ranges::input_range<pcap_reader>);
static_assert(std::same_as<std::ranges::range_value_t<pcap_reader>, frame>);
static_assert(ranges::input_range<pcap_reader>);
static_assert(ranges::input_iterator<pcap_reader::iterator>);
static_assert(ranges::sentinel_for<std::default_sentinel_t, pcap_reader::iterator>);

fs::path captures_dir() { return fs::path(STRATA_SHARED_DIR) / "captures"; }

// A scratch directory removed at the end of each test.
class PcapFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("strata_pcap_test_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path tmp(const std::string& name) const { return dir_ / name; }
  fs::path dir_;
};

std::vector<char> read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write_all(const fs::path& p, const std::vector<char>& data, std::size_t n) {
  std::ofstream out(p, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(n));
}

std::vector<std::byte> make_bytes(std::size_t n, unsigned seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = std::byte(static_cast<unsigned char>(seed + i * 7));
  return v;
}

#define STRATA_NEED_CAPTURES()           \
  if (!fs::is_directory(captures_dir())) \
  GTEST_SKIP() << "no captures at " << captures_dir() << " (set STRATA_SHARED_DIR to the shared/ folder)"

TEST_F(PcapFile, OpenErrorsNameTheFileAndTheCause) {
  auto missing = pcap_reader::open(tmp("does-not-exist.pcap"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().file, tmp("does-not-exist.pcap").string());
  EXPECT_NE(missing.error().what().find("does-not-exist.pcap"), std::string::npos);
  EXPECT_NE(missing.error().what().find("No such file"), std::string::npos) << missing.error().what();
  // The file name is not repeated when libpcap's message already starts with it.
  std::string w = missing.error().what();
  EXPECT_EQ(w.find("does-not-exist.pcap"), w.rfind("does-not-exist.pcap")) << w;

  { std::ofstream(tmp("notes.txt")) << "this is not a capture file, just some text\n"; }
  auto text = pcap_reader::open(tmp("notes.txt"));
  ASSERT_FALSE(text);
  EXPECT_NE(text.error().what().find("notes.txt"), std::string::npos);
  EXPECT_NE(text.error().what().find("unknown file format"), std::string::npos) << text.error().what();

  { std::ofstream(tmp("empty.pcap")); }
  EXPECT_FALSE(pcap_reader::open(tmp("empty.pcap")));

  // The throwing form: only at open time.
  try {
    pcap_reader r(tmp("does-not-exist.pcap"));
    FAIL() << "no exception";
  } catch (const strata::io::open_failure& e) {
    EXPECT_NE(std::string(e.what()).find("does-not-exist.pcap"), std::string::npos);
    EXPECT_EQ(e.error().file, tmp("does-not-exist.pcap").string());
  }
  EXPECT_THROW((void)pcap_reader::open(tmp("notes.txt")).value(), strata::io::open_failure);

  auto w_missing_dir = pcap_writer::open(tmp("no/such/dir/out.pcap"), link_type::ethernet);
  ASSERT_FALSE(w_missing_dir);
  EXPECT_NE(w_missing_dir.error().what().find("out.pcap"), std::string::npos) << w_missing_dir.error().what();
  EXPECT_THROW(pcap_writer(tmp("no/such/dir/out.pcap"), 1), strata::io::open_failure);
}

TEST_F(PcapFile, WriterRoundTripKeepsBytesLengthsTimestampsAndLinkType) {
  using namespace std::chrono;
  const strata::io::timestamp t0{seconds(1'700'000'000) + nanoseconds(123'456'789)};
  std::vector<std::vector<std::byte>> payloads = {make_bytes(60, 1), make_bytes(1514, 2), make_bytes(1, 3),
                                                  make_bytes(0, 4)};
  for (link_type lt : {link_type::ethernet, link_type::raw, link_type::linux_sll2, link_type::null}) {
    fs::path p = tmp("rt_" + std::to_string(static_cast<int>(lt)) + ".pcap");
    {
      auto w = pcap_writer::open(p, lt);
      ASSERT_TRUE(w) << w.error().what();
      for (std::size_t i = 0; i < payloads.size(); ++i) {
        frame f{payloads[i], static_cast<std::uint32_t>(payloads[i].size() + (i == 1 ? 100 : 0)),
                t0 + microseconds(i * 1500), 0};
        EXPECT_TRUE(w->write(f));
      }
      EXPECT_EQ(w->frames_written(), payloads.size());
      EXPECT_TRUE(w->close());
      EXPECT_FALSE(w->write(payloads[0], 60, t0));  // closed
    }
    auto bytes = read_all(p);
    ASSERT_GE(bytes.size(), 24u);
    std::uint32_t magic, linktype;
    std::memcpy(&magic, bytes.data(), 4);
    std::memcpy(&linktype, bytes.data() + 20, 4);
    EXPECT_EQ(magic, 0xa1b23c4du);  // nanosecond pcap, host byte order
    EXPECT_EQ(linktype,
              lt == link_type::raw ? 101u : static_cast<std::uint32_t>(lt));  // LINKTYPE_ number in the file

    auto r = pcap_reader::open(p);
    ASSERT_TRUE(r) << r.error().what();
    EXPECT_EQ(r->link_type(), lt);
    std::size_t i = 0;
    for (const frame& f : *r) {
      ASSERT_LT(i, payloads.size());
      EXPECT_EQ(f.index, i + 1);
      ASSERT_EQ(f.data.size(), payloads[i].size());
      EXPECT_TRUE(std::equal(f.data.begin(), f.data.end(), payloads[i].begin()));
      EXPECT_EQ(f.wire_length, payloads[i].size() + (i == 1 ? 100 : 0));
      EXPECT_EQ(f.snapped(), i == 1);
      EXPECT_EQ(f.time, t0 + microseconds(i * 1500));
      ++i;
    }
    EXPECT_EQ(i, payloads.size());
    EXPECT_FALSE(r->failed());
    EXPECT_FALSE(r->truncated());
  }
}

TEST_F(PcapFile, WriterMicrosecondPrecisionAndSnapLength) {
  using namespace std::chrono;
  const strata::io::timestamp t{seconds(1'000'000'000) + nanoseconds(999'999'999)};
  fs::path p = tmp("micro.pcap");
  {
    auto w = pcap_writer::open(p, link_type::ethernet, 100, strata::io::tstamp_precision::micro);
    ASSERT_TRUE(w);
    auto big = make_bytes(300, 9);
    EXPECT_TRUE(w->write(big, 300, t));
  }
  auto bytes = read_all(p);
  std::uint32_t magic;
  std::memcpy(&magic, bytes.data(), 4);
  EXPECT_EQ(magic, 0xa1b2c3d4u);
  auto r = pcap_reader::open(p);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->snaplen(), 100u);
  auto it = r->begin();
  ASSERT_NE(it, r->end());
  EXPECT_EQ(it->data.size(), 100u);  // cut to the snap length
  EXPECT_EQ(it->wire_length, 300u);
  EXPECT_EQ(it->time, strata::io::timestamp(seconds(1'000'000'000) + microseconds(999'999)));
  ++it;
  EXPECT_EQ(it, r->end());
}

TEST_F(PcapFile, EveryCaptureReadsCompletely) {
  STRATA_NEED_CAPTURES();
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(captures_dir())) {
    auto ext = e.path().extension();
    if (ext != ".pcap" && ext != ".pcapng") continue;
    SCOPED_TRACE(e.path().filename().string());
    auto r = pcap_reader::open(e.path());
    ASSERT_TRUE(r) << r.error().what();
    EXPECT_EQ(r->link_type(), link_type::ethernet);  // all the shared captures are Ethernet (MANIFEST)
    EXPECT_EQ(r->datalink(), 1);
    std::uint64_t expected_index = 1;
    for (const frame& f : *r) {
      EXPECT_EQ(f.index, expected_index++);
      EXPECT_GE(f.wire_length, f.data.size());
      EXPECT_GT(f.time.time_since_epoch(), std::chrono::hours(24 * 365 * 20));  // after 1990
      EXPECT_FALSE(f.data.empty());
    }
    EXPECT_EQ(r->frames_read(), expected_index - 1);
    EXPECT_FALSE(r->failed()) << r->error()->what();
    EXPECT_TRUE(r->done());
    EXPECT_EQ(r->begin(), r->end());  // single pass: stays at the end
    ++files;
  }
  EXPECT_GT(files, 0u);
}

// The offsets of each record in a classic pcap file (24-byte file header, 16-byte record headers).
std::vector<std::size_t> record_offsets(const std::vector<char>& file) {
  std::uint32_t magic;
  std::memcpy(&magic, file.data(), 4);
  bool swapped = magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u;
  std::vector<std::size_t> out;
  std::size_t off = 24;
  while (off + 16 <= file.size()) {
    out.push_back(off);
    std::uint32_t caplen;
    std::memcpy(&caplen, file.data() + off + 8, 4);
    if (swapped) caplen = __builtin_bswap32(caplen);
    off += 16 + caplen;
  }
  out.push_back(off);  // the end
  return out;
}

TEST_F(PcapFile, CutCapturesEndTheRangeAndSayWhere) {
  STRATA_NEED_CAPTURES();
  const fs::path src = captures_dir() / "ndpi__http_ipv6.pcap";
  if (!fs::exists(src)) GTEST_SKIP() << src << " missing";
  auto file = read_all(src);
  auto recs = record_offsets(file);
  ASSERT_EQ(recs.back(), file.size());
  ASSERT_GT(recs.size(), 20u);
  for (std::size_t k : {std::size_t{0}, std::size_t{1}, std::size_t{7}, recs.size() - 2}) {
    const std::size_t boundary = recs[k];
    // Exactly at a record boundary: a clean, shorter capture.
    {
      fs::path p = tmp("cut_clean.pcap");
      write_all(p, file, boundary);
      auto r = pcap_reader::open(p);
      ASSERT_TRUE(r);
      std::size_t n = 0;
      for ([[maybe_unused]] const frame& f : *r) ++n;
      EXPECT_EQ(n, k);
      EXPECT_FALSE(r->truncated());
      EXPECT_FALSE(r->failed());
    }
    // Inside the next record's header, and inside its data.
    for (std::size_t extra : {std::size_t{5}, std::size_t{16 + 3}}) {
      fs::path p = tmp("cut.pcap");
      write_all(p, file, boundary + extra);
      auto r = pcap_reader::open(p);
      ASSERT_TRUE(r);
      std::size_t n = 0;
      for (const frame& f : *r) {
        ++n;
        EXPECT_EQ(f.index, n);
      }
      EXPECT_EQ(n, k) << "cut at " << boundary + extra;
      EXPECT_TRUE(r->truncated());
      ASSERT_TRUE(r->error().has_value());
      EXPECT_EQ(r->error()->frames_read, k);
      EXPECT_EQ(r->error()->offset, static_cast<std::int64_t>(boundary));
      EXPECT_NE(r->error()->what().find("truncated capture after frame " + std::to_string(k)),
                std::string::npos)
          << r->error()->what();
      EXPECT_NE(r->error()->what().find("byte offset " + std::to_string(boundary)), std::string::npos);
    }
  }
}

TEST_F(PcapFile, CutPcapngCapture) {
  STRATA_NEED_CAPTURES();
  const fs::path src = captures_dir() / "chrissanders__ipv6_fragments.pcapng";
  if (!fs::exists(src)) GTEST_SKIP() << src << " missing";
  auto file = read_all(src);
  std::size_t total = 0;
  {
    auto r = pcap_reader::open(src);
    ASSERT_TRUE(r);
    for ([[maybe_unused]] const frame& f : *r) ++total;
    EXPECT_EQ(total, 22u);
  }
  write_all(tmp("cut.pcapng"), file, file.size() / 2);
  auto r = pcap_reader::open(tmp("cut.pcapng"));
  ASSERT_TRUE(r);
  std::size_t n = 0;
  for ([[maybe_unused]] const frame& f : *r) ++n;
  EXPECT_GT(n, 0u);
  EXPECT_LT(n, total);
  EXPECT_TRUE(r->truncated());
  ASSERT_TRUE(r->error());
  EXPECT_EQ(r->error()->frames_read, n);
  EXPECT_GT(r->error()->offset, 0);
  EXPECT_LT(r->error()->offset, static_cast<std::int64_t>(file.size() / 2));
}

TEST_F(PcapFile, WorksWithRangeV3AndStdViews) {
  STRATA_NEED_CAPTURES();
  const fs::path src = captures_dir() / "ndpi__synscan.pcap";
  if (!fs::exists(src)) GTEST_SKIP() << src << " missing";
  auto r = pcap_reader::open(src);
  ASSERT_TRUE(r);
  const link_type lt = r->link_type();
  // range-v3: the RSTs among the first frames, as (index, source port) pairs.
  auto rsts = *r | ranges::views::transform([lt](const frame& f) {
    return std::pair{f.index, strata::packet::parse(f.data, lt, f.wire_length)};
  }) | ranges::views::filter([](const auto& p) { return p.second.ok() && p.second.tcp.is_rst(); }) |
              ranges::views::take(2);
  std::vector<std::uint64_t> idx;
  for (const auto& p : rsts) idx.push_back(p.first);
  ASSERT_EQ(idx.size(), 2u);
  EXPECT_LT(idx[0], idx[1]);
  // The same reader continues where range-v3 stopped: std::views over the rest. (Clang 14's concepts
  // cannot compile libstdc++ 12's std::views at all, whatever the range; range-v3 covers it there.)
  std::uint64_t last = 0, count = 0;
  auto big_enough = [](const frame& f) { return f.data.size() >= 54; };
#if defined(__clang__) && __clang_major__ < 15 && defined(__GLIBCXX__)
  auto rest = *r | ranges::views::filter(big_enough);
#else
  auto rest = *r | std::views::filter(big_enough);
#endif
  for (const frame& f : rest) {
    last = f.index;
    ++count;
  }
  EXPECT_EQ(last, 2011u);
  EXPECT_GT(count, 0u);
  EXPECT_EQ(r->frames_read(), 2011u);
}

TEST_F(PcapFile, MovingAReaderKeepsItsPosition) {
  STRATA_NEED_CAPTURES();
  const fs::path src = captures_dir() / "zeek__q-in-q.pcap";
  if (!fs::exists(src)) GTEST_SKIP() << src << " missing";
  auto opened = pcap_reader::open(src);
  ASSERT_TRUE(opened);
  pcap_reader a = std::move(*opened);
  ASSERT_TRUE(a.next());
  ASSERT_TRUE(a.next());
  EXPECT_EQ(a.current().index, 2u);
  pcap_reader b = std::move(a);
  EXPECT_EQ(b.current().index, 2u);
  std::uint64_t n = 0;
  for (const frame& f : b) {  // begin() after next(): continues at the current frame
    EXPECT_GE(f.index, 2u);
    ++n;
  }
  EXPECT_EQ(n, 4u);  // frames 2..5
  EXPECT_EQ(b.path(), src.string());
  EXPECT_FALSE(a.next());  // moved-from: an empty range
}

TEST_F(PcapFile, ReaderOutputCanBeWrittenBack) {
  STRATA_NEED_CAPTURES();
  const fs::path src = captures_dir() / "zeek__icmp_dot1q.pcap";
  if (!fs::exists(src)) GTEST_SKIP() << src << " missing";
  auto in = pcap_reader::open(src);
  ASSERT_TRUE(in);
  std::vector<std::vector<std::byte>> kept;
  {
    auto out = pcap_writer::open(tmp("copy.pcap"), in->datalink(), in->snaplen());
    ASSERT_TRUE(out);
    for (const frame& f : *in) {
      ASSERT_TRUE(out->write(f));
      kept.emplace_back(f.data.begin(), f.data.end());
    }
  }
  auto again = pcap_reader::open(tmp("copy.pcap"));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->link_type(), in->link_type());
  std::size_t i = 0;
  for (const frame& f : *again) {
    ASSERT_LT(i, kept.size());
    EXPECT_TRUE(std::equal(f.data.begin(), f.data.end(), kept[i].begin(), kept[i].end()));
    ++i;
  }
  EXPECT_EQ(i, kept.size());
}

}  // namespace

#else

TEST(PcapFile, NeedLibpcap) { GTEST_SKIP() << "built without libpcap (strata::pcap)"; }

#endif
