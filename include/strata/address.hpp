// IPv4 and IPv6 addresses and prefixes: one 128-bit value type, parsed by constexpr functions so
// that a literal such as "10.0.0.0/8"_v4 is checked by the compiler and costs nothing at run time.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <strata/detail/fixed_string.hpp>

namespace strata {

enum class family : std::uint8_t { none = 0, v4 = 4, v6 = 6 };

/// Family tags, used to pick the V4 or V6 variant of a path (`path::tcp::inbound_syn<v4>`).
struct v4 {
  static constexpr family value = family::v4;
};
struct v6 {
  static constexpr family value = family::v6;
};

/// A 128-bit address value. IPv4 lives in the low 32 bits in host order (as WFP's UINT32 does);
/// IPv6 is the 16 bytes in network order, split in two big-endian halves.
struct address {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;

  static constexpr address from_v4(std::uint32_t host_order) { return {0, host_order}; }
  static constexpr address from_v6(const std::uint8_t* bytes) {
    address a;
    for (int i = 0; i < 8; ++i) a.hi = (a.hi << 8) | bytes[i];
    for (int i = 8; i < 16; ++i) a.lo = (a.lo << 8) | bytes[i];
    return a;
  }
  constexpr std::uint32_t v4() const { return static_cast<std::uint32_t>(lo); }
  constexpr std::array<std::uint8_t, 16> v6_bytes() const {
    std::array<std::uint8_t, 16> b{};
    for (int i = 0; i < 8; ++i) b[i] = static_cast<std::uint8_t>(hi >> (56 - 8 * i));
    for (int i = 0; i < 8; ++i) b[8 + i] = static_cast<std::uint8_t>(lo >> (56 - 8 * i));
    return b;
  }
  constexpr address operator&(address m) const { return {hi & m.hi, lo & m.lo}; }
  friend constexpr bool operator==(address, address) = default;
  friend constexpr auto operator<=>(address, address) = default;
};

/// The mask of a prefix of `length` bits within a family's width.
constexpr address prefix_mask(family f, unsigned length) {
  if (f == family::v4) {
    std::uint32_t m = length == 0 ? 0u : (length >= 32 ? 0xffffffffu : ~(0xffffffffu >> length));
    return {0, m};
  }
  auto part = [](unsigned bits) -> std::uint64_t {
    return bits == 0 ? 0 : (bits >= 64 ? ~std::uint64_t{0} : ~(~std::uint64_t{0} >> bits));
  };
  return {part(length > 64 ? 64 : length), part(length > 64 ? length - 64 : 0)};
}

/// An address with a prefix length ("10.0.0.0/8"); a plain address is a full-length prefix.
struct prefix {
  address addr{};
  std::uint8_t length = 0;
  family fam = family::none;

  constexpr address mask() const { return prefix_mask(fam, length); }
  constexpr bool is_host() const { return length == (fam == family::v4 ? 32 : 128); }
  constexpr bool contains(address a) const { return (a & mask()) == (addr & mask()); }
  /// A literal names one host when it has no "/len": it converts to its address.
  constexpr operator address() const { return addr; }
  friend constexpr bool operator==(prefix, prefix) = default;
};

namespace detail {

constexpr std::optional<std::uint32_t> parse_v4_digits(std::string_view s) {
  std::uint32_t value = 0;
  int parts = 0;
  std::size_t i = 0;
  while (parts < 4) {
    if (i >= s.size() || s[i] < '0' || s[i] > '9') return std::nullopt;
    unsigned part = 0;
    std::size_t digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      part = part * 10 + static_cast<unsigned>(s[i] - '0');
      if (++digits > 3 || part > 255) return std::nullopt;
      ++i;
    }
    if (digits > 1 && s[i - digits] == '0') return std::nullopt;  // no octal-looking parts
    value = (value << 8) | part;
    if (++parts < 4) {
      if (i >= s.size() || s[i] != '.') return std::nullopt;
      ++i;
    }
  }
  if (i != s.size()) return std::nullopt;
  return value;
}

constexpr int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr std::optional<address> parse_v6_digits(std::string_view s) {
  std::array<std::uint16_t, 8> groups{};
  int count = 0;
  int gap = -1;  // index where "::" stands
  std::size_t i = 0;
  if (s.size() >= 2 && s[0] == ':' && s[1] == ':') {
    gap = 0;
    i = 2;
    if (i == s.size()) return address{};
  } else if (!s.empty() && s[0] == ':') {
    return std::nullopt;
  }
  while (i < s.size()) {
    if (count >= 8) return std::nullopt;
    // An embedded dotted IPv4 tail takes two groups.
    std::size_t end = s.find(':', i);
    std::string_view token = s.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i);
    if (token.find('.') != std::string_view::npos) {
      if (end != std::string_view::npos || count > 6) return std::nullopt;
      auto v4 = parse_v4_digits(token);
      if (!v4) return std::nullopt;
      groups[static_cast<std::size_t>(count++)] = static_cast<std::uint16_t>(*v4 >> 16);
      groups[static_cast<std::size_t>(count++)] = static_cast<std::uint16_t>(*v4 & 0xffff);
      i = s.size();
      break;
    }
    if (token.empty() || token.size() > 4) return std::nullopt;
    unsigned v = 0;
    for (char c : token) {
      int d = hex_digit(c);
      if (d < 0) return std::nullopt;
      v = v * 16 + static_cast<unsigned>(d);
    }
    groups[static_cast<std::size_t>(count++)] = static_cast<std::uint16_t>(v);
    if (end == std::string_view::npos) {
      i = s.size();
      break;
    }
    i = end + 1;
    if (i < s.size() && s[i] == ':') {
      if (gap >= 0) return std::nullopt;  // only one "::"
      gap = count;
      ++i;
      if (i == s.size()) break;
    } else if (i == s.size()) {
      return std::nullopt;  // trailing single ':'
    }
  }
  if (gap < 0 && count != 8) return std::nullopt;
  if (gap >= 0 && count >= 8) return std::nullopt;
  std::array<std::uint16_t, 8> full{};
  if (gap < 0) {
    full = groups;
  } else {
    int tail = count - gap;
    for (int k = 0; k < gap; ++k) full[static_cast<std::size_t>(k)] = groups[static_cast<std::size_t>(k)];
    for (int k = 0; k < tail; ++k)
      full[static_cast<std::size_t>(8 - tail + k)] = groups[static_cast<std::size_t>(gap + k)];
  }
  address a;
  for (int k = 0; k < 4; ++k) a.hi = (a.hi << 16) | full[static_cast<std::size_t>(k)];
  for (int k = 4; k < 8; ++k) a.lo = (a.lo << 16) | full[static_cast<std::size_t>(k)];
  return a;
}

}  // namespace detail

/// Parses "a.b.c.d", "a.b.c.d/len", an IPv6 text form, or one with "/len". With `want` set, only
/// that family is accepted. Host bits beyond the prefix are rejected ("10.0.0.1/8" is a typo in a
/// filter), unless `host_bits` is `keep_host_bits::mask` (an interface's "10.0.0.2/24" names a network).
enum class keep_host_bits : bool { reject, mask };
constexpr std::optional<prefix> parse_prefix(std::string_view text, family want = family::none,
                                             keep_host_bits host_bits = keep_host_bits::reject) {
  std::string_view addr_part = text;
  std::optional<unsigned> length;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    addr_part = text.substr(0, slash);
    std::string_view len_part = text.substr(slash + 1);
    if (len_part.empty() || len_part.size() > 3) return std::nullopt;
    unsigned n = 0;
    for (char c : len_part) {
      if (c < '0' || c > '9') return std::nullopt;
      n = n * 10 + static_cast<unsigned>(c - '0');
    }
    if (len_part.size() > 1 && len_part[0] == '0') return std::nullopt;
    length = n;
  }
  prefix p;
  if (addr_part.find(':') == std::string_view::npos) {
    auto v = detail::parse_v4_digits(addr_part);
    if (!v) return std::nullopt;
    p.fam = family::v4;
    p.addr = address::from_v4(*v);
    p.length = static_cast<std::uint8_t>(length.value_or(32));
    if (length && *length > 32) return std::nullopt;
  } else {
    auto v = detail::parse_v6_digits(addr_part);
    if (!v) return std::nullopt;
    p.fam = family::v6;
    p.addr = *v;
    if (length && *length > 128) return std::nullopt;
    p.length = static_cast<std::uint8_t>(length.value_or(128));
  }
  if (want != family::none && p.fam != want) return std::nullopt;
  if ((p.addr & p.mask()) != p.addr) {
    if (host_bits == keep_host_bits::reject) return std::nullopt;
    p.addr = p.addr & p.mask();
  }
  return p;
}

/// Parses one address (no "/len").
constexpr std::optional<address> parse_address(std::string_view text, family want = family::none) {
  if (text.find('/') != std::string_view::npos) return std::nullopt;
  auto p = parse_prefix(text, want);
  if (!p) return std::nullopt;
  return p->addr;
}

/// Text form of an address: dotted quad for IPv4, RFC 5952 for IPv6 (lower case, the longest run
/// of two or more zero groups as "::"). Writes into `out` (46 bytes suffice) and returns the length;
/// constexpr and allocation-free so that per-packet formatting can use it.
constexpr std::size_t format_address(address a, family f, char* out) {
  std::size_t n = 0;
  auto put_dec = [&](unsigned v) {
    char tmp[3];
    std::size_t k = 0;
    do tmp[k++] = static_cast<char>('0' + v % 10), v /= 10;
    while (v);
    while (k) out[n++] = tmp[--k];
  };
  if (f != family::v6) {
    const std::uint32_t v = a.v4();
    for (int i = 3; i >= 0; --i) {
      put_dec((v >> (8 * i)) & 0xff);
      if (i) out[n++] = '.';
    }
    return n;
  }
  std::array<std::uint16_t, 8> g{};
  for (int i = 0; i < 4; ++i)
    g[static_cast<std::size_t>(i)] = static_cast<std::uint16_t>(a.hi >> (48 - 16 * i));
  for (int i = 0; i < 4; ++i)
    g[static_cast<std::size_t>(4 + i)] = static_cast<std::uint16_t>(a.lo >> (48 - 16 * i));
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (g[static_cast<std::size_t>(i)] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && g[static_cast<std::size_t>(j)] == 0) ++j;
    if (j - i > best_len && j - i >= 2) best = i, best_len = j - i;
    i = j;
  }
  constexpr char hex[] = "0123456789abcdef";
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      out[n++] = ':';
      out[n++] = ':';
      i += best_len - 1;
      continue;
    }
    if (i > 0 && !(i == best + best_len && best >= 0)) out[n++] = ':';
    const unsigned v = g[static_cast<std::size_t>(i)];
    bool started = false;
    for (int s = 12; s >= 0; s -= 4) {
      const unsigned d = (v >> s) & 0xf;
      if (d || started || s == 0) out[n++] = hex[d], started = true;
    }
  }
  return n;
}

/// `to_string` convenience for diagnostics and reports (allocates; not for the per-packet path).
template <class String = std::string>
String to_string(address a, family f) {
  char buf[48];
  return String(buf, format_address(a, f, buf));
}
inline std::string to_string(const prefix& p) {
  std::string s = to_string(p.addr, p.fam);
  if (!p.is_host()) s += "/" + std::to_string(p.length);
  return s;
}

namespace error {
// Undefined on purpose: the compiler names the literal when one does not parse.
template <detail::fixed_string Literal>
void malformed_ipv4_address_literal();
template <detail::fixed_string Literal>
void malformed_ipv6_address_literal();
}  // namespace error

inline namespace literals {

/// "10.0.0.0/8"_v4, "192.0.2.1"_v4: checked at compile time.
template <detail::fixed_string Text>
consteval prefix operator""_v4() {
  auto p = parse_prefix(Text.view(), family::v4);
  if (!p) error::malformed_ipv4_address_literal<Text>();
  return *p;
}

/// "fd00::/8"_v6, "2001:db8::1"_v6: checked at compile time.
template <detail::fixed_string Text>
consteval prefix operator""_v6() {
  auto p = parse_prefix(Text.view(), family::v6);
  if (!p) error::malformed_ipv6_address_literal<Text>();
  return *p;
}

}  // namespace literals

}  // namespace strata
