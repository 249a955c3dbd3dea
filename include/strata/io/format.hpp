// Records as JSON Lines (traversal.md §10) and as one line of text. Writes into a caller-owned
// std::string that is reused from frame to frame, so steady-state output does not allocate.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include <strata/address.hpp>
#include <strata/field.hpp>
#include <strata/record.hpp>
#include <strata/render.hpp>

namespace strata::io {

namespace detail {

inline void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, end);
}

inline void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          constexpr char hex[] = "0123456789abcdef";
          out += "\\u00";
          out += hex[(c >> 4) & 0xf];
          out += hex[c & 0xf];
        } else {
          out += c;
        }
    }
  }
  out += '"';
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

}  // namespace detail

/// "tcp 10.0.0.1:40980 > 10.0.0.2:8080", "icmp 10.0.0.1 > 10.0.0.2 type 8 code 0".
inline void append_flow(std::string& out, const flow_label& l) {
  out += detail::protocol_name(l.protocol, l.fam);
  out += ' ';
  detail::append_address(out, l.src, l.fam, l.has_ports);
  if (l.has_ports) out += ':', detail::append_uint(out, l.src_port);
  out += " > ";
  detail::append_address(out, l.dst, l.fam, l.has_ports);
  if (l.has_ports) out += ':', detail::append_uint(out, l.dst_port);
  if (l.is_icmp) {
    out += " type ";
    detail::append_uint(out, l.src_port);
    out += " code ";
    detail::append_uint(out, l.dst_port);
  } else if (!l.has_ports && l.protocol != 0) {
    out += " proto ";
    detail::append_uint(out, l.protocol);
  }
}

/// One JSON object (no newline). `Names` resolves filter and sublayer names: an engine type.
template <class Names>
void append_json(std::string& out, const record& r) {
  out += "{\"frame\":";
  detail::append_uint(out, r.frame);
  out += ",\"dir\":";
  if (r.dir == traffic_direction::none)
    out += "null";
  else
    detail::append_json_string(out, name(r.dir));
  out += ",\"flow\":";
  if (r.flow.fam == family::none) {
    out += "null";
  } else {
    out += '"';
    append_flow(out, r.flow);
    out += '"';
  }
  out += ",\"steps\":[";
  bool first = true;
  for (const step_record& s : r.steps) {
    if (!first) out += ',';
    first = false;
    out += "{\"layer\":";
    detail::append_json_string(out, short_identifier(s.layer));
    if (s.flags) {
      out += ",\"flags\":[";
      bool f1 = true;
      for (const auto& [bit, flag_name] : flag::names) {
        if (!(s.flags & bit)) continue;
        if (!f1) out += ',';
        f1 = false;
        detail::append_json_string(out, flag_name);
      }
      out += ']';
    }
    if (s.filter >= 0) {
      out += ",\"filter\":";
      detail::append_json_string(out, Names::filter_name(r.policy, s.filter));
      out += ",\"sublayer\":";
      detail::append_json_string(out, Names::sublayer_name(r.policy, s.sublayer));
      out += ",\"action\":";
      detail::append_json_string(out, name(s.act));
      if (s.hard) out += ",\"hard\":true";
      if (s.veto) out += ",\"veto\":true";
    }
    out += '}';
  }
  out += "],\"verdict\":";
  detail::append_json_string(out, r.verdict == action::block ? "block" : "permit");
  out += ",\"filter\":";
  if (r.filter >= 0)  // the record's own name first: its filter may be of the policy in force before a switch
    detail::append_json_string(
        out, !r.filter_name.empty() ? r.filter_name : Names::filter_name(r.policy, r.filter));
  else
    out += "null";
  if (r.dup) out += ",\"dup\":true";
  if (r.suppressed) out += ",\"suppressed\":true";
  if (r.reassembled) out += ",\"reassembled\":true";
  if (r.malformed()) {
    out += ",\"error\":";
    detail::append_json_string(out, r.error);
    out += ",\"stage\":";
    detail::append_json_string(out, packet::name(r.error_stage));
  }
  out += '}';
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
