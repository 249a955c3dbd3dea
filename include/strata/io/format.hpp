// Records as JSON Lines (traversal.md §10) and as one line of text. Writes into a caller-owned
// std::string that is reused from frame to frame, so steady-state output does not allocate.
#pragma once

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <strata/address.hpp>
#include <strata/field.hpp>
#include <strata/record.hpp>
#include <strata/render.hpp>

namespace strata::io {

namespace detail {

/// Appends to a std::string through a buffer on the stack: one append per kilobyte instead of a
/// capacity check (and a call) per piece; a record's JSON is ~200 bytes of ~40 pieces. Flushed by its
/// destructor. Pieces longer than the buffer go straight to the string.
class buffered {
 public:
  explicit buffered(std::string& out) noexcept : out_(out) {}
  buffered(const buffered&) = delete;
  buffered& operator=(const buffered&) = delete;
  ~buffered() { flush(); }

  void flush() {
    out_.append(buf_, n_);
    n_ = 0;
  }
  void put(char c) {
    if (n_ == capacity) flush();
    buf_[n_++] = c;
  }
  void raw(const char* s, std::size_t k) {
    if (k > capacity - n_) {
      flush();
      if (k > capacity) {
        out_.append(s, k);
        return;
      }
    }
    std::memcpy(buf_ + n_, s, k);
    n_ += k;
  }
  void raw(std::string_view s) { raw(s.data(), s.size()); }
  void number(std::uint64_t v) {
    room(20);
    n_ = static_cast<std::size_t>(std::to_chars(buf_ + n_, buf_ + capacity, v).ptr - buf_);
  }
  void addr(address a, family f, bool bracket) {
    const bool b = bracket && f == family::v6;
    room(48);
    if (b) buf_[n_++] = '[';
    n_ += format_address(a, f, buf_ + n_);
    if (b) buf_[n_++] = ']';
  }
  /// A JSON string: quoted, `"`, `\` and control characters escaped; runs without them copied whole.
  void json_string(std::string_view s) {
    put('"');
    std::size_t from = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
      const char c = s[i];
      if (c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20) continue;
      raw(s.data() + from, i - from);
      from = i + 1;
      switch (c) {
        case '"':
          raw("\\\"", 2);
          break;
        case '\\':
          raw("\\\\", 2);
          break;
        case '\n':
          raw("\\n", 2);
          break;
        case '\t':
          raw("\\t", 2);
          break;
        default: {
          constexpr char hex[] = "0123456789abcdef";
          const char u[6] = {'\\', 'u', '0', '0', hex[(c >> 4) & 0xf], hex[c & 0xf]};
          raw(u, 6);
        }
      }
    }
    raw(s.data() + from, s.size() - from);
    put('"');
  }

 private:
  static constexpr std::size_t capacity = 1024;
  void room(std::size_t k) {
    if (k > capacity - n_) flush();
  }
  std::string& out_;
  std::size_t n_ = 0;
  char buf_[capacity];
};

inline void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, end);
}

inline void append_json_string(std::string& out, std::string_view s) {
  buffered b(out);
  b.json_string(s);
}

inline void append_address(std::string& out, address a, family f, bool bracket) {
  char buf[48];
  const std::size_t n = format_address(a, f, buf);
  if (bracket && f == family::v6) out += '[';
  out.append(buf, n);
  if (bracket && f == family::v6) out += ']';
}

inline std::string_view protocol_name(std::uint8_t p, family f) {
  switch (p) {
    case proto::tcp:
      return "tcp";
    case proto::udp:
      return "udp";
    case proto::icmp:
      return "icmp";
    case proto::icmpv6:
      return "icmp6";
    case 47:
      return "gre";
    case 50:
      return "esp";
    case 51:
      return "ah";
    case 132:
      return "sctp";
    default:
      break;
  }
  return f == family::v6 ? "ipv6" : "ip";
}

inline void append_flow(buffered& out, const flow_label& l) {
  out.raw(protocol_name(l.protocol, l.fam));
  out.put(' ');
  out.addr(l.src, l.fam, l.has_ports);
  if (l.has_ports) out.put(':'), out.number(l.src_port);
  out.raw(" > ", 3);
  out.addr(l.dst, l.fam, l.has_ports);
  if (l.has_ports) out.put(':'), out.number(l.dst_port);
  if (l.is_icmp) {
    out.raw(" type ", 6);
    out.number(l.src_port);
    out.raw(" code ", 6);
    out.number(l.dst_port);
  } else if (!l.has_ports && l.protocol != 0) {
    out.raw(" proto ", 7);
    out.number(l.protocol);
  }
}

}  // namespace detail

/// "tcp 10.0.0.1:40980 > 10.0.0.2:8080", "icmp 10.0.0.1 > 10.0.0.2 type 8 code 0".
inline void append_flow(std::string& out, const flow_label& l) {
  detail::buffered b(out);
  detail::append_flow(b, l);
}

/// One JSON object (no newline). `Names` resolves filter and sublayer names: an engine type.
/// Written through a stack buffer (detail::buffered): no allocation once `out` has grown, and about
/// one append per record.
template <class Names>
void append_json(std::string& out_string, const record& r) {
  detail::buffered out(out_string);
  using namespace std::string_view_literals;
  out.raw("{\"frame\":"sv);
  out.number(r.frame);
  out.raw(",\"dir\":"sv);
  if (r.dir == traffic_direction::none)
    out.raw("null"sv);
  else
    out.json_string(name(r.dir));
  out.raw(",\"flow\":"sv);
  if (r.flow.fam == family::none) {
    out.raw("null"sv);
  } else {
    out.put('"');
    detail::append_flow(out, r.flow);
    out.put('"');
  }
  out.raw(",\"steps\":["sv);
  bool first = true;
  for (const step_record& s : r.steps) {
    if (!first) out.put(',');
    first = false;
    out.raw("{\"layer\":"sv);
    out.json_string(short_identifier(s.layer));
    if (s.flags) {
      out.raw(",\"flags\":["sv);
      bool f1 = true;
      for (const auto& [bit, flag_name] : flag::names) {
        if (!(s.flags & bit)) continue;
        if (!f1) out.put(',');
        f1 = false;
        out.json_string(flag_name);
      }
      out.put(']');
    }
    if (s.filter >= 0) {
      out.raw(",\"filter\":"sv);
      out.json_string(Names::filter_name(r.policy, s.filter));
      out.raw(",\"sublayer\":"sv);
      out.json_string(Names::sublayer_name(r.policy, s.sublayer));
      out.raw(",\"action\":"sv);
      out.json_string(name(s.act));
      if (s.hard) out.raw(",\"hard\":true"sv);
      if (s.veto) out.raw(",\"veto\":true"sv);
    }
    out.put('}');
  }
  out.raw("],\"verdict\":"sv);
  out.raw(r.verdict == action::block ? "\"block\""sv : "\"permit\""sv);
  out.raw(",\"filter\":"sv);
  if (r.filter >= 0)  // the record's own name first: its filter may be of the policy in force before a switch
    out.json_string(!r.filter_name.empty() ? r.filter_name : Names::filter_name(r.policy, r.filter));
  else
    out.raw("null"sv);
  if (r.dup) out.raw(",\"dup\":true"sv);
  if (r.suppressed) out.raw(",\"suppressed\":true"sv);
  if (r.reassembled) out.raw(",\"reassembled\":true"sv);
  if (r.malformed()) {
    out.raw(",\"error\":"sv);
    out.json_string(r.error);
    out.raw(",\"stage\":"sv);
    out.json_string(packet::name(r.error_stage));
  }
  out.put('}');
}

/// One line of text: the frame, its direction and flow, then the trace as strata::to_text renders
/// it ("IPPACKET → TRANSPORT → AUTH_RECV_ACCEPT [admin/ssh-from-lan: permit, hard]"). Text output
/// is for people: it allocates, unlike the JSON form.
template <class Names>
void append_text(std::string& out, const record& r) {
  std::string num;
  detail::append_uint(num, r.frame);
  if (num.size() < 5) out.append(5 - num.size(), ' ');
  out += num;
  out += ' ';
  const std::string_view d = name(r.dir);
  out += d;
  out.append(d.size() < 5 ? 5 - d.size() : 1, ' ');
  if (r.malformed()) {
    out += "malformed (";
    out += packet::name(r.error_stage);
    out += "): ";
    out += r.error;
    return;
  }
  if (r.flow.fam != family::none) {
    append_flow(out, r.flow);
    out += "  ";
  }
  if (r.dup) {
    out += "(departing copy of a forwarded packet)";
    return;
  }
  if (r.suppressed) {
    out += "(";
    out += r.flow.is_icmp ? "ICMP error" : "RST";
    out += " suppressed by ";
    if (!r.sublayer_name.empty()) out += r.sublayer_name, out += '/';
    out += !r.filter_name.empty() ? r.filter_name : Names::filter_name(r.policy, r.filter);
    out += ')';
    return;
  }
  if (r.steps.size() == 0) {
    out += r.flow.fam == family::none ? "(not IP) " : "(no steps) ";
    out += r.verdict == action::block ? "block" : "permit";
    return;
  }
  Names::with_policy(r.policy, [&](const auto& p) { out += to_text(r.steps, p); });
  if (r.verdict == action::block && r.filter < 0)
    out += r.stack_discard ? "  (nobody listening: dropped)" : "  block";
}

}  // namespace strata::io
