// Run-time set files (strata-classify --set NAME=FILE): one address/prefix or port/range a line, `#`
// comments, errors named FILE:LINE. Apart from strata/sets.hpp so that a translation unit that loads
// no file (every policy's, through strata/engine.hpp) does not compile the file reader.
#pragma once

#include <cstdint>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <strata/set_data.hpp>

namespace strata {

/// The outcome of reading a set file: the set, or an error (`io`: the file could not be read; else a
/// bad line, named as FILE:LINE).
struct set_file_result {
  std::shared_ptr<const set_data> data;
  std::string error;
  bool io = false;
  explicit operator bool() const { return data != nullptr; }
};

namespace detail {
inline std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}
inline std::optional<std::uint16_t> parse_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  std::uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}
}  // namespace detail

/// Parses a set's text: one address or prefix (IPv4 or IPv6; address sets), or one port or
/// `low-high` range (port sets), a line; blank lines and `#` comments (whole-line or trailing) are
/// ignored. `origin` names the text in errors ("FILE:LINE: ...").
inline set_file_result parse_set(std::string_view text, set_kind kind, std::string_view origin) {
  set_file_result r;
  std::vector<prefix> addresses;
  std::vector<port_range> ports;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (const auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = detail::trim(line);
    if (line.empty()) continue;
    bool ok = false;
    if (kind == set_kind::address) {
      if (auto p = parse_prefix(line)) {
        addresses.push_back(*p);
        ok = true;
      }
    } else if (const auto dash = line.find('-'); dash != std::string_view::npos) {
      const auto lo = detail::parse_port(detail::trim(line.substr(0, dash)));
      const auto hi = detail::parse_port(detail::trim(line.substr(dash + 1)));
      if (lo && hi && *lo <= *hi) {
        ports.emplace_back(*lo, *hi);
        ok = true;
      }
    } else if (auto p = detail::parse_port(line)) {
      ports.emplace_back(*p);
      ok = true;
    }
    if (!ok) {
      r.error =
          std::string(origin) + ':' + std::to_string(line_no) + ": not " +
          (kind == set_kind::address ? "an IPv4/IPv6 address or prefix" : "a port or port range (low-high)") +
          ": '" + std::string(line) + "'";
      return r;
    }
  }
  r.data = std::make_shared<const set_data>(kind == set_kind::address ? set_data::addresses(addresses)
                                                                      : set_data::ports(ports));
  return r;
}

/// Reads a set file (see parse_set).
inline set_file_result load_set_file(const std::string& path, set_kind kind) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    set_file_result r;
    r.io = true;
    r.error = path + ": cannot open";
    return r;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) {
    set_file_result r;
    r.io = true;
    r.error = path + ": read error";
    return r;
  }
  return parse_set(text, kind, path);
}

}  // namespace strata
