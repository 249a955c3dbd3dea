// Builds the fuzz targets' seed corpora from real captures, at run time, into a build directory (the
// captures are inputs, never copied into the repository):
//
//   strata_fuzz_seeds OUTDIR CAPTURE-OR-DIRECTORY...
//
// writes OUTDIR/engine_frame, OUTDIR/engine_sequence, OUTDIR/pcap_reader and OUTDIR/address in the input
// formats of harness.hpp, and prints how many seeds each got.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <strata/io/pcap_file.hpp>

#include "harness.hpp"

namespace {

namespace fs = std::filesystem;
using bytes = std::vector<std::uint8_t>;
using strata::packet::link_type;

struct frame_copy {
  bytes data;
  std::uint32_t wire = 0;
  std::int64_t time_ns = 0;
};

struct capture {
  std::string stem;
  fs::path path;
  std::uintmax_t file_size = 0;
  link_type lt = link_type::ethernet;
  int dlt = 1;
  std::uint32_t snaplen = 262144;
  std::vector<frame_copy> frames;
};

std::size_t written = 0;

void write_file(const fs::path& p, const bytes& b) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  ++written;
}

std::string safe(std::string s) {
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  return s;
}

bool load(const fs::path& p, capture& c) {
  auto file = strata::io::pcap_reader::open(p);
  if (!file) {
    std::fprintf(stderr, "strata_fuzz_seeds: %s\n", file.error().what().c_str());
    return false;
  }
  c.stem = safe(p.stem().string());
  c.path = p;
  c.file_size = fs::file_size(p);
  c.lt = file->link_type();
  c.dlt = file->datalink();
  c.snaplen = file->snaplen();
  for (const strata::io::frame& f : *file) {
    const auto* d = reinterpret_cast<const std::uint8_t*>(f.data.data());
    c.frames.push_back({bytes(d, d + f.data.size()), f.wire_length, f.time.time_since_epoch().count()});
  }
  return true;
}

// engine_frame: [link][options][frame]
void frame_seeds(const capture& c, const fs::path& dir) {
  static constexpr std::uint8_t options[] = {0x01, 0x02, 0x00, 0x03, 0x0d, 0x11, 0x21, 0x05, 0x41, 0x22};
  const std::size_t n = c.frames.size(), limit = 256;
  const std::size_t stride = n > limit ? (n + limit - 1) / limit : 1;
  for (std::size_t i = 0; i < n; i += stride) {
    const frame_copy& f = c.frames[i];
    bytes b{strata_fuzz::link_byte(c.lt), options[i % std::size(options)]};
    b.insert(b.end(), f.data.begin(), f.data.end());
    write_file(dir / (c.stem + "-" + std::to_string(i + 1)), b);
  }
}

std::uint8_t dt_code(std::int64_t delta_ns) {
  if (delta_ns < 0) return 255;
  const std::int64_t ms = delta_ns / 1'000'000;
  if (ms < 128) return static_cast<std::uint8_t>(ms);
  const std::int64_t s = delta_ns / 1'000'000'000;
  if (s < 64) return static_cast<std::uint8_t>(128 + s);
  return static_cast<std::uint8_t>(192 + std::min<std::int64_t>(s / 10, 61));
}

// engine_sequence: [link][host][config] then [len lo][len hi][dt][ctl][bytes]
void sequence_seeds(const capture& c, const fs::path& dir) {
  static constexpr std::uint8_t hosts[] = {0x01, 0x09, 0x02, 0x49, 0x05, 0x8a, 0x19, 0x03};
  static constexpr std::uint8_t configs[] = {0xff, 0x00, 0xfe, 0x55, 0xaa};
  const std::size_t chunk = 48, max_chunks = 8;
  for (std::size_t k = 0; k * chunk < c.frames.size() && k < max_chunks; ++k) {
    bytes b{strata_fuzz::link_byte(c.lt), hosts[k % std::size(hosts)], configs[k % std::size(configs)]};
    const std::size_t first = k * chunk, last = std::min(c.frames.size(), first + chunk);
    for (std::size_t i = first; i < last; ++i) {
      const frame_copy& f = c.frames[i];
      const std::size_t len = std::min<std::size_t>(f.data.size(), 0xffff);
      std::uint8_t ctl = 0;
      if (f.wire > f.data.size()) ctl |= 0x40;
      if (i == first + (last - first) / 2 && k % 2 == 1) ctl |= 0x80 | static_cast<std::uint8_t>(k % 3);
      b.push_back(static_cast<std::uint8_t>(len & 0xff));
      b.push_back(static_cast<std::uint8_t>(len >> 8));
      std::int64_t delta = 0;
      if (i != first && __builtin_sub_overflow(f.time_ns, c.frames[i - 1].time_ns, &delta)) delta = -1;
      b.push_back(dt_code(delta));
      b.push_back(ctl);
      b.insert(b.end(), f.data.begin(), f.data.begin() + static_cast<std::ptrdiff_t>(len));
    }
    write_file(dir / (c.stem + "-" + std::to_string(k + 1)), b);
  }
}

bytes read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// pcap_reader: small captures as they are (pcap and pcapng), larger ones cut to their first frames
// (rewritten as pcap); and each capture's first frames in microsecond pcap.
void capture_seeds(const capture& c, const fs::path& dir) {
  if (c.file_size <= 32 * 1024) write_file(dir / c.path.filename().string(), read_all(c.path));
  const auto rewrite = [&](const std::string& name, std::size_t frames, strata::io::tstamp_precision prec) {
    const fs::path out = dir / name;
    {
      auto w = strata::io::pcap_writer::open(out, c.dlt, c.snaplen, prec);
      if (!w) return;
      for (std::size_t i = 0; i < frames && i < c.frames.size(); ++i) {
        const frame_copy& f = c.frames[i];
        w->write(std::span<const std::byte>(reinterpret_cast<const std::byte*>(f.data.data()), f.data.size()),
                 f.wire, strata::io::timestamp(std::chrono::nanoseconds(f.time_ns)));
      }
    }
    ++written;
  };
  if (c.file_size > 32 * 1024) rewrite(c.stem + "-first24.pcap", 24, strata::io::tstamp_precision::nano);
  rewrite(c.stem + "-first6-micro.pcap", 6, strata::io::tstamp_precision::micro);
}

void address_seeds(const std::vector<capture>& caps, const fs::path& dir) {
  std::set<std::string> texts = {"0.0.0.0",
                                 "255.255.255.255",
                                 "10.0.0.2/24",
                                 "10.0.0.0/8",
                                 "192.168.1.1",
                                 "::",
                                 "::1",
                                 "fe80::1/64",
                                 "fd00::/8",
                                 "2001:db8::1",
                                 "::ffff:1.2.3.4",
                                 "1:2:3:4:5:6:7:8",
                                 "1::8",
                                 "2001:db8::/32",
                                 "64:ff9b::192.0.2.33/96",
                                 "0.0.0.0/0",
                                 "::/0",
                                 "FE80::A:B:C:D",
                                 "1:2:3:4:5:6:1.2.3.4"};
  for (const capture& c : caps) {
    std::size_t n = 0;
    for (const frame_copy& f : c.frames) {
      const auto p = strata::packet::parse(
          std::span<const std::byte>(reinterpret_cast<const std::byte*>(f.data.data()), f.data.size()), c.lt,
          f.wire);
      if (!p.ok()) continue;
      texts.insert(strata::to_string(p.src, p.fam));
      texts.insert(strata::to_string(p.dst, p.fam) + (p.fam == strata::family::v4 ? "/24" : "/64"));
      if (++n == 8) break;
    }
  }
  std::size_t i = 0;
  for (const std::string& t : texts)
    write_file(dir / ("address-" + std::to_string(++i)), bytes(t.begin(), t.end()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s OUTDIR CAPTURE-OR-DIRECTORY...\n", argv[0]);
    return 2;
  }
  const fs::path out = argv[1];
  std::vector<fs::path> inputs;
  for (int i = 2; i < argc; ++i) {
    const fs::path p = argv[i];
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> in_dir;
      for (const auto& e : fs::directory_iterator(p, ec)) {
        const std::string ext = e.path().extension().string();
        if (ext == ".pcap" || ext == ".pcapng") in_dir.push_back(e.path());
      }
      std::sort(in_dir.begin(), in_dir.end());
      inputs.insert(inputs.end(), in_dir.begin(), in_dir.end());
    } else if (fs::exists(p, ec)) {
      inputs.push_back(p);
    } else {
      std::fprintf(stderr, "strata_fuzz_seeds: %s: not found (skipped)\n", p.c_str());
    }
  }
  std::vector<capture> caps;
  for (const fs::path& p : inputs) {
    capture c;
    if (load(p, c)) caps.push_back(std::move(c));
  }
  const char* targets[] = {"engine_frame", "engine_sequence", "pcap_reader", "address"};
  for (const char* t : targets) fs::create_directories(out / t);
  std::size_t counts[4] = {};
  for (const capture& c : caps) {
    std::size_t before = written;
    frame_seeds(c, out / "engine_frame");
    counts[0] += written - before;
    before = written;
    sequence_seeds(c, out / "engine_sequence");
    counts[1] += written - before;
    before = written;
    capture_seeds(c, out / "pcap_reader");
    counts[2] += written - before;
  }
  const std::size_t before = written;
  address_seeds(caps, out / "address");
  counts[3] = written - before;
  std::printf(
      "strata_fuzz_seeds: %zu captures -> %s: engine_frame %zu, engine_sequence %zu, pcap_reader %zu, "
      "address %zu\n",
      caps.size(), out.c_str(), counts[0], counts[1], counts[2], counts[3]);
  return caps.empty() ? 1 : 0;
}
