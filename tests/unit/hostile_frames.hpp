// Frames built by hand for the hostile-input tests (flood_test, engine_malformed_test,
// fuzz_regression_test): Ethernet II + IPv4/IPv6 + TCP/UDP with correct lengths (RFC 791, 8200, 9293,
// 768), IPv4 header checksums filled in, and helpers to read captures and to run frames through an
// engine while checking the record invariants of tests/fuzz/harness.hpp.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include <strata/address.hpp>
#include <strata/engine.hpp>
#include <strata/io/frame.hpp>

#include "fuzz/harness.hpp"

namespace hostile {

using bytes = std::vector<std::uint8_t>;

inline void put16(bytes& b, std::size_t at, unsigned v) {
  b[at] = static_cast<std::uint8_t>(v >> 8);
  b[at + 1] = static_cast<std::uint8_t>(v);
}
inline void put32(bytes& b, std::size_t at, std::uint32_t v) {
  put16(b, at, v >> 16);
  put16(b, at + 2, v & 0xffff);
}

/// Ethernet II header (destination 02:..:0a, source 02:..:0b).
inline bytes ethernet(unsigned ethertype) {
  bytes b = {0x02, 0, 0, 0, 0, 0x0a, 0x02, 0, 0, 0, 0, 0x0b, 0, 0};
  put16(b, 12, ethertype);
  return b;
}

/// RFC 1071 over an IPv4 header (checksum field zero) and store it.
inline void ipv4_checksum(bytes& b, std::size_t l3, std::size_t hl) {
  b[l3 + 10] = b[l3 + 11] = 0;
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < hl; i += 2) sum += (std::uint32_t{b[l3 + i]} << 8) | b[l3 + i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  put16(b, l3 + 10, ~sum & 0xffff);
}

/// Appends `tail`. Not vector::insert: inlined with an empty `tail`, g++ 12 at -O2 reports its memcpy as
/// reading from a region of size 0 (-Wstringop-overread, a false positive).
inline void append(bytes& b, const bytes& tail) {
  if (tail.empty()) return;
  const std::size_t at = b.size();
  b.resize(at + tail.size());
  std::copy(tail.begin(), tail.end(), b.begin() + static_cast<std::ptrdiff_t>(at));
}

/// Ethernet + IPv4 header (no options) carrying `payload`; `frag` is the flags/offset word (offset in
/// 8-byte units; 0x2000 = MF).
inline bytes ipv4(std::uint32_t src, std::uint32_t dst, std::uint8_t protocol, const bytes& payload,
                  std::uint16_t id = 1, std::uint16_t frag = 0x4000) {
  bytes b = ethernet(0x0800);
  const std::size_t l3 = b.size();
  b.resize(l3 + 20);
  b[l3] = 0x45;
  put16(b, l3 + 2, static_cast<unsigned>(20 + payload.size()));
  put16(b, l3 + 4, id);
  put16(b, l3 + 6, frag);
  b[l3 + 8] = 64;
  b[l3 + 9] = protocol;
  put32(b, l3 + 12, src);
  put32(b, l3 + 16, dst);
  ipv4_checksum(b, l3, 20);
  append(b, payload);
  return b;
}

/// Ethernet + IPv6 header with `next` and `payload` (extension headers included in the payload).
inline bytes ipv6(const strata::address& src, const strata::address& dst, std::uint8_t next,
                  const bytes& payload) {
  bytes b = ethernet(0x86dd);
  const std::size_t l3 = b.size();
  b.resize(l3 + 40);
  b[l3] = 0x60;
  put16(b, l3 + 4, static_cast<unsigned>(payload.size()));
  b[l3 + 6] = next;
  b[l3 + 7] = 64;
  const auto s = src.v6_bytes(), d = dst.v6_bytes();
  for (std::size_t i = 0; i < 16; ++i) b[l3 + 8 + i] = s[i], b[l3 + 24 + i] = d[i];
  append(b, payload);
  return b;
}

namespace tcp_flags {
inline constexpr std::uint8_t fin = 0x01, syn = 0x02, rst = 0x04, psh = 0x08, ack = 0x10;
}

/// A TCP header (no options) and `data` bytes of payload.
inline bytes tcp(std::uint16_t sport, std::uint16_t dport, std::uint8_t flags, std::uint32_t seq = 1000,
                 std::uint32_t ack = 0, std::size_t data = 0) {
  bytes b(20 + data, 0);
  put16(b, 0, sport);
  put16(b, 2, dport);
  put32(b, 4, seq);
  put32(b, 8, ack);
  b[12] = 0x50;
  b[13] = flags;
  put16(b, 14, 64240);
  for (std::size_t i = 0; i < data; ++i) b[20 + i] = static_cast<std::uint8_t>('a' + i % 26);
  return b;
}

/// A UDP header and `data` bytes of payload (length field set to match).
inline bytes udp(std::uint16_t sport, std::uint16_t dport, std::size_t data = 0) {
  bytes b(8 + data, 0);
  put16(b, 0, sport);
  put16(b, 2, dport);
  put16(b, 4, static_cast<unsigned>(8 + data));
  for (std::size_t i = 0; i < data; ++i) b[8 + i] = static_cast<std::uint8_t>(i);
  return b;
}

/// An IPv6 fragment header (offset in bytes, a multiple of 8) followed by `data`.
inline bytes frag6(std::uint8_t next, std::uint16_t offset, bool more, std::uint32_t id, const bytes& data) {
  bytes b(8, 0);
  b[0] = next;
  put16(b, 2, static_cast<unsigned>(offset | (more ? 1 : 0)));
  put32(b, 4, id);
  append(b, data);
  return b;
}

constexpr std::uint32_t v4(unsigned a, unsigned b, unsigned c, unsigned d) {
  return (a << 24) | (b << 16) | (c << 8) | d;
}

/// A frame over `b` (which must outlive it).
inline strata::io::frame frame_of(const bytes& b, std::int64_t time_ns, std::uint64_t index,
                                  std::uint32_t wire = 0) {
  strata::io::frame f;
  f.data = std::span<const std::byte>(reinterpret_cast<const std::byte*>(b.data()), b.size());
  f.wire_length = wire;
  f.time = strata::io::timestamp(std::chrono::nanoseconds(time_ns));
  f.index = index;
  return f;
}

/// Resident set size of this process, from /proc/self/statm (0 where unavailable).
inline std::size_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  const int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE)) : 0;
}

/// Built with AddressSanitizer (the sanitizer build of scripts/test): floods are scaled down and
/// resident-memory bounds are not asserted (the sanitizer's shadow memory and quarantine grow RSS).
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool sanitized = true;
#else
inline constexpr bool sanitized = false;
#endif
#else
inline constexpr bool sanitized = false;
#endif

inline std::filesystem::path captures_dir() { return std::filesystem::path(STRATA_SHARED_DIR) / "captures"; }
inline std::filesystem::path demo_capture() {
  return std::filesystem::path(STRATA_SOURCE_DIR) / "tests" / "data" / "strata-demo.pcap";
}

/// Every capture file of shared/captures (sorted), then the project's own demo capture.
inline std::vector<std::filesystem::path> capture_files() {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(captures_dir(), ec)) {
    const std::string ext = e.path().extension().string();
    if (ext == ".pcap" || ext == ".pcapng") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  if (std::filesystem::exists(demo_capture())) out.push_back(demo_capture());
  return out;
}

}  // namespace hostile
