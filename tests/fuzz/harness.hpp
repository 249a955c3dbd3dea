// The fuzz harnesses, shared by the libFuzzer targets (tests/fuzz/fuzz_*.cpp) and the unit tests that
// replay their findings (tests/unit/fuzz_regression_test.cpp). Each harness takes the fuzzer's bytes,
// drives one part of strata with them, and returns nullptr, or the invariant that broke (a string
// literal). Memory errors and undefined behaviour are the sanitizers' to report.
//
// Input formats (what the seed generator, make_seeds.cpp, writes):
//
//   one_frame       [link][options][frame bytes...]
//                   link: index into `link_types` (mod 10; 9 is an unsupported link type)
//                   options: bits 0-1 the observed host (0: no local address, 1: the frame's
//                   destination, 2: its source, 3: both), bit 2 a listener hint for the frame's
//                   destination port (bit 3: listening or closed), bits 4-5 the policy (observe,
//                   stealth, server, mac),
//                   bit 6 the frame is a snapped prefix (wire length larger; bit 7: much larger)
//
//   frame_sequence  [link][host][config] then records [len lo][len hi][dt][ctl][len bytes...]
//                   host: bit 0 the first IP frame's destination is local, bit 1 its source, bit 2
//                   10.0.0.2/8 and fd00::2/8 are local (subnet broadcasts), bit 3 the offline listener
//                   inference (answer_index pre-pass), bits 4-5 a hint for the first frame's
//                   destination port (none, listening, closed, none), bits 6-7 the first policy
//                   config: bits 0-1 flow capacity (2, 8, 64, 1024), bits 2-3 reassembly datagrams
//                   (1, 4, 16, 64), bits 4-5 fragments per datagram (1, 4, 16, 64), bits 6-7 pool
//                   (256 B, 4 KiB, 64 KiB, 256 KiB)
//                   dt: time since the previous frame: 0-127 ms, 128-191: 0-63 s, 192-253: 0-610 s
//                   in 10 s steps, 254: a jump to the largest, the smallest, zero or a negative time
//                   (ctl & 3), 255: one second backwards (clocks step back in real captures)
//                   ctl: bit 7 switch policy to ctl & 3 before the frame (select: flows are
//                   reauthorized), bit 6 the frame is snapped (wire length += 1 + (ctl & 0x3f) * 64)
//
//   capture_file    a pcap or pcapng file
//   address_text    a string for parse_prefix / parse_address / host::add_local
//
// Invariants checked on every record (check_record): the record is for the frame given; the frame
// counter advanced by one; frames == malformed + permitted + blocked; a record carries an error
// exactly when the engine counted the frame malformed, and then it has a reason and no steps (unless
// the error is that of the datagram the frame completed: its layers before reassembly are kept); a
// record's trace is not full (a full trace may have dropped steps); a deciding filter has a name; the
// flow table holds at most its capacity and the reassembler at most its pool and datagram limits.
#pragma once

#include <strata/address.hpp>
#include <strata/engine.hpp>
#include <strata/flow/answers.hpp>
#include <strata/host.hpp>
#include <strata/packet/parse.hpp>

#include "../../examples/policies.hpp"

#if defined(STRATA_HAVE_PCAP)
#include <strata/io/pcap_file.hpp>
#endif

#include <arpa/inet.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace strata_fuzz {

/// A fourth policy with filters at the MAC layers (traversal.md §9: then every frame visits them first):
/// ARP blocked inbound, VLAN 42 blocked outbound; and an outbound connect filter (UDP to the discard port).
namespace extra {
using namespace strata;
inline constexpr sublayer mac_sublayer{"mac", 0x4000};
inline constexpr auto mac = policy(
    filter<"no-arp", layer::inbound_mac_frame_ethernet>(mac_sublayer, action::block, ether_type == 0x0806),
    filter<"no-vlan-42", layer::outbound_mac_frame_ethernet>(mac_sublayer, action::block, vlan_id == 42),
    filter<"no-udp-discard", layer::ale_auth_connect_v4>(mac_sublayer, action::block,
                                                         ip_protocol == proto::udp, remote_port == 9));
}  // namespace extra

using engine_type = strata::engine<policies::observe, policies::stealth, policies::server, extra::mac>;
using strata::packet::link_type;

/// Link types selected by the first byte (mod 10). Index 9 is not a link type strata knows.
inline constexpr std::array<link_type, 10> link_types{link_type::ethernet,   link_type::linux_sll,
                                                      link_type::linux_sll2, link_type::raw,
                                                      link_type::ipv4,       link_type::ipv6,
                                                      link_type::null,       link_type::loop,
                                                      link_type::raw_dlt,    static_cast<link_type>(147)};

constexpr link_type link_of(std::uint8_t b) { return link_types[b % link_types.size()]; }
/// The selector byte of a link type (for seeds); 9 for one not in the list.
constexpr std::uint8_t link_byte(link_type lt) {
  for (std::size_t i = 0; i < link_types.size(); ++i)
    if (link_types[i] == lt) return static_cast<std::uint8_t>(i);
  return 9;
}

/// Capture time of the first frame: 2023-11-14 (any fixed time would do).
inline constexpr std::int64_t base_time_ns = 1'700'000'000'000'000'000;

/// Aborts with the broken invariant (the fuzz targets' way of reporting one).
inline void must(const char* failure) {
  if (failure == nullptr) return;
  std::fprintf(stderr, "strata fuzz invariant broken: %s\n", failure);
  std::abort();
}

/// The invariants every record must keep (see the header comment). `before` is the engine's counters
/// before the frame was classified.
template <class Engine>
const char* check_record(const Engine& e, const strata::record& r, const strata::engine_counters& before,
                         std::uint64_t index) {
  const strata::engine_counters& c = e.counters();
  if (r.frame != index) return "the record is for another frame";
  if (c.frames != before.frames + 1) return "the frame counter did not advance by one";
  if (c.frames != c.malformed + c.permitted + c.blocked) return "frames != malformed + permitted + blocked";
  const bool counted_malformed = c.malformed == before.malformed + 1;
  if (!counted_malformed && c.malformed != before.malformed)
    return "the malformed counter moved by more than one";
  if (r.malformed() != counted_malformed)
    return "a record carries an error but was not counted malformed (or the reverse)";
  // A frame whose datagram turned out malformed only once reassembled may have visited layers before
  // (the MAC layers, a loopback packet's outbound pass); any other malformed record has no steps.
  if (r.malformed() && r.steps.size() != 0 && !r.reassembled) return "a record has both an error and steps";
  if (!r.malformed()) {
    const bool counted_blocked = c.blocked == before.blocked + 1 && c.permitted == before.permitted;
    const bool counted_permitted = c.permitted == before.permitted + 1 && c.blocked == before.blocked;
    if (r.blocked() ? !counted_blocked : !counted_permitted) return "the verdict was not counted as given";
  }
  if (r.steps.size() >= strata::trace::capacity) return "a trace is full (steps may have been dropped)";
  if (r.filter >= 0 && r.filter_name.empty()) return "a deciding filter has no name";
  if (e.flows().size() > e.flows().capacity()) return "the flow table holds more than its capacity";
  const auto rs = e.reassembly().stats();
  if (rs.bytes_in_use > rs.memory_bytes) return "reassembly holds more than its pool";
  if (rs.peak_bytes > rs.memory_bytes) return "reassembly peaked above its pool";
  if (rs.datagrams_in_use > e.reassembly().limits().max_datagrams)
    return "reassembly holds more datagrams than its limit";
  return nullptr;
}

inline std::span<const std::byte> as_bytes(const std::uint8_t* p, std::size_t n) {
  return {reinterpret_cast<const std::byte*>(p), n};
}

inline strata::prefix host_prefix(strata::address a, strata::family f) {
  return strata::prefix{a, static_cast<std::uint8_t>(f == strata::family::v4 ? 32 : 128), f};
}

// ---- (a) one frame of any link type --------------------------------------------------------------

inline const char* one_frame(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return nullptr;
  const link_type lt = link_of(data[0]);
  const std::uint8_t opt = data[1];
  const std::span<const std::byte> bytes = as_bytes(data + 2, size - 2);

  const std::uint32_t wire =
      (opt & 0x40) ? static_cast<std::uint32_t>(bytes.size() + ((opt & 0x80) ? 70000 : 1)) : 0;
  strata::host h;
  const strata::packet::parsed p = strata::packet::parse(bytes, lt, wire);
  if (p.ok()) {
    if (opt & 1) h.add_local(host_prefix(p.dst, p.fam));
    if (opt & 2) h.add_local(host_prefix(p.src, p.fam));
    if (opt & 4) h.add_hint({p.protocol, p.dst_port, (opt & 8) != 0});
  }
  strata::engine_config cfg;
  cfg.flow_capacity = 16;
  cfg.endpoint_capacity = 16;
  cfg.reassembly.max_datagrams = 4;
  cfg.reassembly.max_fragments = 8;
  cfg.reassembly.memory_bytes = 16 << 10;
  cfg.link = lt;
  auto e = std::make_unique<engine_type>(h, cfg);
  e->select(static_cast<std::size_t>((opt >> 4) & 3) % engine_type::policy_count);

  strata::io::frame f;
  f.data = bytes;
  f.wire_length = wire;
  f.time = strata::io::timestamp(std::chrono::nanoseconds(base_time_ns));
  f.index = 1;
  const strata::engine_counters before = e->counters();
  const strata::record r = e->classify(f);
  if (const char* bad = check_record(*e, r, before, 1)) return bad;
  if (p.is_malformed() && r.error != p.malformed.reason)
    return "a malformed frame's record does not carry the parser's reason";
  return nullptr;
}

// ---- (b) a sequence of frames: flows, reassembly, policy switches --------------------------------

struct sequence_frame {
  std::vector<std::byte> bytes;  // its own exact-size allocation: a read past the end is seen by ASan
  std::uint32_t wire_length = 0;
  std::int64_t time_ns = 0;
  int select = -1;
};

inline std::vector<sequence_frame> split_sequence(const std::uint8_t* data, std::size_t size,
                                                  std::size_t max_frames = 512) {
  std::vector<sequence_frame> out;
  std::size_t pos = 3;
  std::int64_t t = base_time_ns;
  while (pos + 4 <= size && out.size() < max_frames) {
    std::size_t len = std::size_t{data[pos]} | (std::size_t{data[pos + 1]} << 8);
    const std::uint8_t dt = data[pos + 2], ctl = data[pos + 3];
    pos += 4;
    if (len > size - pos) len = size - pos;
    std::int64_t step = 0;
    if (dt < 128)
      step = std::int64_t{dt} * 1'000'000;
    else if (dt < 192)
      step = std::int64_t{dt - 128} * 1'000'000'000;
    else if (dt < 254)
      step = std::int64_t{dt - 192} * 10'000'000'000;
    else if (dt == 255)
      step = -1'000'000'000;
    if (dt == 254) {  // a jump to the ends of the timestamp range (a crafted capture file can state them)
      static constexpr std::int64_t ends[] = {std::numeric_limits<std::int64_t>::max(),
                                              std::numeric_limits<std::int64_t>::min(), 0, -1'000'000'000};
      t = ends[ctl & 3];
    } else if (__builtin_add_overflow(t, step, &t)) {
      t = step < 0 ? std::numeric_limits<std::int64_t>::min() : std::numeric_limits<std::int64_t>::max();
    }
    sequence_frame f;
    f.bytes.assign(reinterpret_cast<const std::byte*>(data + pos),
                   reinterpret_cast<const std::byte*>(data + pos + len));
    f.time_ns = t;
    if (ctl & 0x40) f.wire_length = static_cast<std::uint32_t>(len + 1 + std::size_t{ctl & 0x3fu} * 64);
    if (ctl & 0x80) f.select = (ctl & 3) % static_cast<int>(engine_type::policy_count);
    out.push_back(std::move(f));
    pos += len;
  }
  return out;
}

inline const char* frame_sequence(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return nullptr;
  const link_type lt = link_of(data[0]);
  const std::uint8_t host_bits = data[1], config_bits = data[2];
  const std::vector<sequence_frame> frames = split_sequence(data, size);

  strata::host h;
  for (const sequence_frame& f : frames) {  // the first IP frame names the observed host
    const strata::packet::parsed p = strata::packet::parse(f.bytes, lt, f.wire_length);
    if (!p.ok()) continue;
    if (host_bits & 1) h.add_local(host_prefix(p.dst, p.fam));
    if (host_bits & 2) h.add_local(host_prefix(p.src, p.fam));
    const unsigned hint = (host_bits >> 4) & 3;
    if (hint == 1 || hint == 2) h.add_hint({p.protocol, p.dst_port, hint == 1});
    break;
  }
  if (host_bits & 4) {
    h.add_local("10.0.0.2/8");
    h.add_local("fd00::2/8");
  }
  strata::engine_config cfg;
  static constexpr std::size_t flows[] = {2, 8, 64, 1024};
  static constexpr std::size_t datagrams[] = {1, 4, 16, 64};
  static constexpr std::size_t fragments[] = {1, 4, 16, 64};
  static constexpr std::size_t pool[] = {256, 4 << 10, 64 << 10, 256 << 10};
  cfg.flow_capacity = flows[config_bits & 3];
  cfg.endpoint_capacity = flows[config_bits & 3];
  cfg.reassembly.max_datagrams = datagrams[(config_bits >> 2) & 3];
  cfg.reassembly.max_fragments = fragments[(config_bits >> 4) & 3];
  cfg.reassembly.memory_bytes = pool[(config_bits >> 6) & 3];
  cfg.link = lt;

  strata::flow::answer_index answers;
  if (host_bits & 8) {
    std::uint64_t index = 0;
    for (const sequence_frame& f : frames)
      answers.add(strata::packet::parse(f.bytes, lt, f.wire_length), f.bytes, h, ++index, f.time_ns);
  }
  auto e = std::make_unique<engine_type>(h, cfg);
  if (host_bits & 8) e->use_answers(&answers);
  e->select(static_cast<std::size_t>(host_bits >> 6) % engine_type::policy_count);

  std::uint64_t index = 0;
  for (const sequence_frame& sf : frames) {
    if (sf.select >= 0) {
      e->select(static_cast<std::size_t>(sf.select));
      if (e->selected() != static_cast<std::size_t>(sf.select)) return "select() did not switch the policy";
    }
    strata::io::frame f;
    f.data = sf.bytes;
    f.wire_length = sf.wire_length;
    f.time = strata::io::timestamp(std::chrono::nanoseconds(sf.time_ns));
    f.index = ++index;
    const strata::engine_counters before = e->counters();
    const strata::record r = e->classify(f);
    if (const char* bad = check_record(*e, r, before, index)) return bad;
  }
  if (e->counters().frames != frames.size()) return "frames counted != frames classified";
  return nullptr;
}

// ---- (c) a capture file -----------------------------------------------------------------------------

#if defined(STRATA_HAVE_PCAP)
/// Reads every frame of the capture at `path` (at most `max_frames`) and classifies each.
inline const char* capture_file(const std::filesystem::path& path, std::size_t max_frames = 4096) {
  auto file = strata::io::pcap_reader::open(path);
  if (!file) {
    if (file.error().what().empty()) return "an open error without a message";
    return nullptr;
  }
  const link_type lt = file->link_type();
  strata::host h;
  h.add_local("10.0.0.0/8");
  h.add_local("192.168.0.0/16");
  h.add_local("fd00::/8");
  strata::engine_config cfg;
  cfg.flow_capacity = 64;
  cfg.endpoint_capacity = 64;
  cfg.reassembly.max_datagrams = 8;
  cfg.reassembly.memory_bytes = 64 << 10;
  cfg.link = lt;
  auto e = std::make_unique<engine_type>(h, cfg);
  std::uint64_t n = 0;
  for (const strata::io::frame& f : *file) {
    ++n;
    if (f.index != n) return "frame indices are not 1, 2, 3, ...";
    const strata::engine_counters before = e->counters();
    const strata::record r = e->classify(f);
    if (const char* bad = check_record(*e, r, before, n)) return bad;
    if (n >= max_frames) break;
  }
  if (file->frames_read() != n) return "frames_read() != frames delivered";
  if (n < max_frames && !file->done()) return "the range ended before done()";
  if (file->error() && file->error()->what().empty()) return "a read error without a message";
  if (file->truncated() && !file->failed()) return "truncated() without failed()";
  return nullptr;
}
#endif

// ---- (d) address and prefix text ----------------------------------------------------------------------

inline bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

inline const char* address_text(const std::uint8_t* data, std::size_t size) {
  using strata::family;
  using strata::keep_host_bits;
  const std::string_view s(reinterpret_cast<const char*>(data), size);
  for (family want : {family::none, family::v4, family::v6}) {
    for (keep_host_bits hb : {keep_host_bits::reject, keep_host_bits::mask}) {
      const auto p = strata::parse_prefix(s, want, hb);
      if (!p) continue;
      if (p->fam != family::v4 && p->fam != family::v6) return "a parsed prefix without a family";
      if (want != family::none && p->fam != want) return "parse_prefix returned the wrong family";
      if (p->length > (p->fam == family::v4 ? 32 : 128)) return "a prefix longer than its family";
      if ((p->addr & p->mask()) != p->addr) return "a parsed prefix has host bits set";
      if (p->fam == family::v4 && p->addr.hi != 0) return "an IPv4 address with high bits";
      // The text form parses back to the same prefix.
      const std::string text = strata::to_string(*p);
      const auto back = strata::parse_prefix(text, p->fam);
      if (!back || *back != *p) return "to_string(prefix) does not parse back to the same prefix";
      if (hb == keep_host_bits::reject && !strata::parse_prefix(s, want, keep_host_bits::mask))
        return "a prefix accepted strictly is rejected when host bits are masked";
    }
  }
  const auto a = strata::parse_address(s);
  const auto p = strata::parse_prefix(s);
  if (a.has_value() != (p.has_value() && s.find('/') == std::string_view::npos))
    return "parse_address and parse_prefix disagree on a plain address";
  if (a) {
    char buf[64];
    const std::size_t n = strata::format_address(*a, p->fam, buf);
    if (n > 45) return "an address text form longer than 45 characters";
    const auto back = strata::parse_address(std::string_view(buf, n), p->fam);
    if (!back || *back != *a) return "format_address does not parse back to the same address";
  }
  // Differential: a plain address parses exactly when the C library's inet_pton accepts it, to the same
  // bytes.
  if (!has_nul(s) && s.find('/') == std::string_view::npos && s.size() < 128) {
    const std::string z(s);
    unsigned char buf[16];
    const bool v4 = inet_pton(AF_INET, z.c_str(), buf) == 1;
    if (v4 != strata::parse_address(s, family::v4).has_value())
      return "IPv4: parse_address and inet_pton disagree";
    if (v4 && strata::parse_address(s, family::v4)->v4() !=
                  ((std::uint32_t{buf[0]} << 24) | (std::uint32_t{buf[1]} << 16) |
                   (std::uint32_t{buf[2]} << 8) | buf[3]))
      return "IPv4: parse_address and inet_pton give different addresses";
    const bool v6 = inet_pton(AF_INET6, z.c_str(), buf) == 1;
    if (v6 != strata::parse_address(s, family::v6).has_value())
      return "IPv6: parse_address and inet_pton disagree";
    if (v6 && *strata::parse_address(s, family::v6) != strata::address::from_v6(buf))
      return "IPv6: parse_address and inet_pton give different addresses";
  }
  // host::add_local: what it accepts is local; a full host refuses more.
  strata::host h;
  const bool added = h.add_local(s);
  if (added) {
    const auto masked = strata::parse_prefix(s, family::none, keep_host_bits::mask);
    if (!masked) return "add_local accepted a text parse_prefix rejects";
    const auto addr = strata::parse_address(s.substr(0, s.find('/')));
    if (!addr) return "add_local accepted a text whose address part does not parse";
    if (!h.is_local(*addr, masked->fam)) return "an address add_local accepted is not local";
    if (h.local_count() != 1) return "add_local added more than one local address";
    std::size_t more = 1;
    while (h.add_local(s) && more < 2 * strata::host::capacity) ++more;
    if (more != strata::host::capacity) return "a host holds other than `capacity` local addresses";
  } else if (h.local_count() != 0) {
    return "a refused add_local changed the host";
  }
  return nullptr;
}

}  // namespace strata_fuzz
