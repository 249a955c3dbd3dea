// Pictures: a policy, a compiled pipeline and a trace, as plain text and as Graphviz DOT.
//
// Everything here reads what was compiled (the policy's flat tables and compiled<P>::has_filters),
// never a separate description, and returns a std::string; none of it is on the per-packet path.
//
//   strata::to_text(policy)            per layer with filters: sublayers and filters in evaluation order
//   strata::to_dot(policy)             the same as a graph (one cluster per layer, one per sublayer)
//
//   strata::pipeline_text<P>(key)      one path of compiled<P>: its steps in order (layer, flags), for each
//                                      step whether it generates code and its sublayers and filters in
//                                      evaluation order, and the discard edge of a block. P is either the
//                                      constexpr policy (`pipeline_text<host_policy>(...)`) or the compiled
//                                      pipeline type (`pipeline_text<compiled<host_policy>>(...)`); key is
//                                      a path_key or a path type's value (`path::tcp::inbound_syn<v4>{}`)
//   strata::pipeline_text<P>()         every path of all_path_keys, one after the other
//   strata::pipeline_dot<P>(key)       one path as a left-to-right chain of layer clusters, with dashed red
//                                      discard edges; also for a span of keys, or every path with ()
//
//   strata::to_text(trace, policy)     one line: IPPACKET → TRANSPORT → AUTH_RECV_ACCEPT [admin/ssh: permit,
//   hard] strata::to_dot(trace, policy)      the trace as a chain (with the path_result: and its verdict)
//
// Building blocks: to_string(condition_value, layer) ("local_port in [1000, 2000]", "remote_address ==
// 10.0.0.0/8", "flags none_set IS_FRAGMENT"), filter_action_text(filter_value) ("permit, hard"),
// abbreviated(layer_id) ("AUTH_RECV_ACCEPT"), flag_names(bits) ("IS_FRAGMENT|IS_REASSEMBLED"); addresses
// print with to_string(address, family) of <strata/address.hpp> (RFC 5952 for IPv6).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <strata/arbitration.hpp>
#include <strata/condition.hpp>
#include <strata/filter.hpp>
#include <strata/layer.hpp>
#include <strata/path.hpp>
#include <strata/pipeline.hpp>
#include <strata/policy.hpp>

namespace strata {

// ----------------------------------------------------------------------------------------------------
// Small pieces
// ----------------------------------------------------------------------------------------------------

namespace detail {
inline void append_decimal(std::string& out, std::uint64_t v) {
  char buf[24];
  std::size_t n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) out += buf[--n];
}
inline void append_hex(std::string& out, std::uint64_t v, std::size_t min_digits = 1) {
  constexpr std::string_view digits = "0123456789abcdef";
  char buf[16];
  std::size_t n = 0;
  do {
    buf[n++] = digits[v & 0xf];
    v >>= 4;
  } while (v != 0);
  while (n < min_digits && n < 16) buf[n++] = '0';
  while (n > 0) out += buf[--n];
}
}  // namespace detail

/// Condition flags (the FLAGS field) by WFP name without FWP_CONDITION_FLAG_, in bit order, joined by
/// `separator`; bits without a name print in hex. Empty for 0.
inline std::string flag_names(std::uint32_t bits, std::string_view separator = "|") {
  std::string out;
  for (const auto& [bit, flag_name] : flag::names) {
    if ((bits & bit) == 0) continue;
    if (!out.empty()) out += separator;
    out += flag_name;
    bits &= ~bit;
  }
  if (bits != 0) {
    if (!out.empty()) out += separator;
    out += "0x";
    detail::append_hex(out, bits);
  }
  return out;
}

/// A layer's identifier as traces abbreviate it (user-experience.md): without ALE_, INBOUND_,
/// OUTBOUND_ and the family ("INBOUND_TRANSPORT_V4_DISCARD" → "TRANSPORT_DISCARD").
inline std::string abbreviated(layer_id l) {
  std::string s(short_identifier(l));
  for (std::string_view head : {"ALE_", "INBOUND_", "OUTBOUND_"}) {
    if (s.starts_with(head)) {
      s.erase(0, head.size());
      break;
    }
  }
  for (std::string_view fam : {"_V4", "_V6"}) {
    if (auto at = s.find(fam); at != std::string::npos && (at + 3 == s.size() || s[at + 3] == '_'))
      s.erase(at, 3);
  }
  return s;
}

namespace detail::render {

inline std::string_view field_label(field_id f, layer_id at) {
  const bool icmp = at != layer_id::none && kind(at) == layer_kind::icmp_error;
  switch (f) {
    case field_id::ip_local_port:
      return icmp ? "icmp_type" : "local_port";
    case field_id::ip_remote_port:
      return icmp ? "icmp_code" : "remote_port";
    case field_id::ip_local_address:
      return "local_address";
    case field_id::ip_remote_address:
      return "remote_address";
    default:
      return spelling(f);
  }
}

inline std::string integer_text(field_id f, match_type m, std::uint64_t v) {
  std::string out;
  const bool flag_match =
      m == match_type::flags_all_set || m == match_type::flags_any_set || m == match_type::flags_none_set;
  if (f == field_id::flags && v <= 0xffffffffu && v != 0) return flag_names(static_cast<std::uint32_t>(v));
  if (flag_match) {
    out = "0x";
    append_hex(out, v);
    return out;
  }
  if (f == field_id::ip_protocol || f == field_id::embedded_protocol) {
    switch (v) {
      case proto::icmp:
        return "icmp";
      case proto::tcp:
        return "tcp";
      case proto::udp:
        return "udp";
      case proto::icmpv6:
        return "icmpv6";
      default:
        break;
    }
  }
  if (f == field_id::direction && v <= 1) return v == 0 ? "outbound" : "inbound";
  if (f == field_id::discard_module) {
    switch (static_cast<discard_module_code>(v)) {
      case discard_module_code::network:
        return "network";
      case discard_module_code::transport:
        return "transport";
      case discard_module_code::general:
        return "general";
    }
  }
  if (f == field_id::discard_reason) {
    switch (static_cast<discard_reason_code>(v)) {
      case discard_reason_code::firewall_policy:
        return "firewall_policy";
      case discard_reason_code::endpoint_not_found:
        return "endpoint_not_found";
      case discard_reason_code::port_unreachable:
        return "port_unreachable";
    }
  }
  append_decimal(out, v);
  return out;
}

// The prefix length of a contiguous mask within a family's width, or -1.
inline int mask_length(address mask, family fam) {
  const unsigned width = fam == family::v4 ? 32u : 128u;
  for (unsigned len = 0; len <= width; ++len)
    if (prefix_mask(fam, len) == mask) return static_cast<int>(len);
  return -1;
}

inline std::string address_text(const condition_value& c, address a, bool with_mask) {
  const family fam =
      c.fam != family::none ? c.fam : ((a.hi == 0 && (a.lo >> 32) == 0) ? family::v4 : family::v6);
  std::string out = to_string(a, fam);
  if (!with_mask) return out;
  const address full = prefix_mask(fam, fam == family::v4 ? 32u : 128u);
  const address all_ones{~std::uint64_t{0}, ~std::uint64_t{0}};
  if (c.mask == full || c.mask == all_ones) return out;
  const int len = mask_length(c.mask, fam);
  if (len >= 0) {
    out += '/';
    append_decimal(out, static_cast<std::uint64_t>(len));
  } else {
    out += " mask ";
    out += to_string(c.mask, fam);
  }
  return out;
}

inline std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  out += '"';
  return out;
}

inline std::string_view operator_text(match_type m) {
  switch (m) {
    case match_type::equal:
      return "==";
    case match_type::not_equal:
      return "!=";
    case match_type::greater:
      return ">";
    case match_type::less:
      return "<";
    case match_type::greater_or_equal:
      return ">=";
    case match_type::less_or_equal:
      return "<=";
    case match_type::range:
      return "in";
    case match_type::flags_all_set:
      return "all_set";
    case match_type::flags_any_set:
      return "any_set";
    case match_type::flags_none_set:
      return "none_set";
    case match_type::equal_case_insensitive:
      return "equal_case_insensitive";
    case match_type::prefix:
      return "prefix";
    case match_type::not_prefix:
      return "not_prefix";
    case match_type::in_set:
      return "in";
    case match_type::not_in_set:
      return "not_in";
  }
  return "?";
}

}  // namespace detail::render

/// One condition as text, in the spelling of strata's conditions: "local_port == 22",
/// "remote_address == 10.0.0.0/8", "local_port in [1000, 2000]", "flags none_set IS_FRAGMENT",
/// "ip_protocol == tcp", "ale_app_id prefix \"svchost.exe\"". With the layer it stands at, the port
/// slots of an ICMP error layer print as icmp_type/icmp_code.
inline std::string to_string(const condition_value& c, layer_id at = layer_id::none) {
  namespace r = detail::render;
  std::string out(r::field_label(c.field, at));
  out += ' ';
  out += r::operator_text(c.match);
  out += ' ';
  if (is_set_match(c.match)) {  // nft's spelling of a named set
    out += '@';
    out += c.text;
    return out;
  }
  switch (kind(c.field)) {
    case value_kind::integer:
      if (c.match == match_type::range) {
        out += '[' + r::integer_text(c.field, c.match, c.low.lo) + ", " +
               r::integer_text(c.field, c.match, c.high.lo) + ']';
      } else {
        out += r::integer_text(c.field, c.match, c.low.lo);
      }
      break;
    case value_kind::address:
      if (c.match == match_type::range) {
        out += '[' + r::address_text(c, c.low, false) + ", " + r::address_text(c, c.high, false) + ']';
      } else {
        const bool masked = c.match == match_type::equal || c.match == match_type::not_equal;
        out += r::address_text(c, c.low, masked);
      }
      break;
    case value_kind::text:
      out += r::quoted(c.text);
      break;
  }
  return out;
}

/// A filter's conditions as one expression: same-field conditions joined by " || ", the groups by
/// " && ". "always" for a filter without conditions.
template <Policy P>
std::string conditions_text(const P& p, const filter_value& f) {
  const auto conds = p.conditions_of(f);
  if (conds.empty()) return "always";
  std::string out;
  for (std::size_t i = 0; i < conds.size(); ++i) {
    if (i > 0) out += conds[i].field == conds[i - 1].field ? " || " : " && ";
    out += to_string(conds[i], f.layer);
  }
  return out;
}

/// A filter's action and flags: "permit", "permit, hard", "block", "continue",
/// "callout_terminating (unregistered), permit_if_callout_unregistered".
inline std::string filter_action_text(const filter_value& f) {
  std::string out(name(f.act));
  const bool callout = f.act == action::callout_terminating || f.act == action::callout_inspection ||
                       f.act == action::callout_unknown;
  if (callout && f.callout == nullptr) out += " (unregistered)";
  if (f.flags.has(clear_action_right)) out += ", hard";
  if (f.flags.has(permit_if_callout_unregistered)) out += ", permit_if_callout_unregistered";
  return out;
}

namespace detail::render {

inline std::string hex16(std::uint64_t v) {
  std::string out = "0x";
  append_hex(out, v, 16);
  return out;
}
inline std::string hex4(std::uint16_t v) {
  std::string out = "0x";
  append_hex(out, v, 4);
  return out;
}
inline std::string count_text(std::size_t n, std::string_view one, std::string_view many) {
  std::string out;
  append_decimal(out, n);
  out += ' ';
  out += n == 1 ? one : many;
  return out;
}
inline std::string padded(std::string s, std::size_t width) {
  // Pads by code points (the text may hold "→"), so columns line up in a UTF-8 terminal.
  std::size_t cps = 0;
  for (unsigned char ch : s) cps += (ch & 0xc0) != 0x80 ? 1 : 0;
  if (cps < width) s.append(width - cps, ' ');
  return s;
}

// ---- text: the sublayers and filters of one layer, in evaluation order ---------------------------------
template <Policy P>
void layer_filters_text(std::string& out, const P& p, layer_id l, std::string_view indent) {
  const auto order = p.evaluation_order(l);
  std::size_t name_width = 0, action_width = 0;
  for (std::uint16_t fi : order) {
    name_width = std::max(name_width, p.filters[fi].name.size());
    action_width = std::max(action_width, filter_action_text(p.filters[fi]).size());
  }
  int current = -1;
  for (std::uint16_t fi : order) {
    const filter_value& f = p.filters[fi];
    if (f.sublayer_index != current) {
      current = f.sublayer_index;
      const sublayer& s = p.sublayers[f.sublayer_index];
      out += indent;
      out += "sublayer ";
      out += s.name;
      out += " (" + hex4(s.weight) + ")\n";
    }
    out += indent;
    out += "  ";
    out += padded(std::string(f.name), name_width);
    out += "  " + hex16(f.effective_weight) + "  ";
    out += padded(filter_action_text(f), action_width);
    out += "  " + conditions_text(p, f);
    out += '\n';
  }
}

// ---- DOT helpers -----------------------------------------------------------------------------------
// A DOT quoted string: quotes and backslashes escaped, line breaks as \n.
inline std::string dot_id_text(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '\n') {
      out += "\\n";
      continue;
    }
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  out += '"';
  return out;
}
inline std::string html(std::string_view s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}
inline std::string_view action_colour(action a) {
  switch (a) {
    case action::permit:
      return "#1a7f37";
    case action::block:
      return "#cf222e";
    default:
      return "#57606a";
  }
}

constexpr std::string_view dot_header_attrs =
    "  graph [fontname=\"Helvetica\", fontsize=11, labelloc=t, labeljust=l];\n"
    "  node [fontname=\"Helvetica\", fontsize=10];\n"
    "  edge [fontname=\"Helvetica\", fontsize=9];\n";

// An HTML-like table of one layer's sublayers and filters (for pipeline clusters).
template <Policy P>
std::string layer_table_html(const P& p, layer_id l) {
  std::string t = "<<table border=\"0\" cellborder=\"0\" cellspacing=\"0\" cellpadding=\"2\">";
  int current = -1;
  for (std::uint16_t fi : p.evaluation_order(l)) {
    const filter_value& f = p.filters[fi];
    if (f.sublayer_index != current) {
      current = f.sublayer_index;
      const sublayer& s = p.sublayers[f.sublayer_index];
      t += "<tr><td align=\"left\" colspan=\"4\" bgcolor=\"#eaeef2\"><b>" + html(s.name) + "</b> " +
           hex4(s.weight) + "</td></tr>";
    }
    t += "<tr><td align=\"left\">" + html(f.name) +
         "</td><td align=\"left\"><font point-size=\"8\" color=\"#57606a\">" + hex16(f.effective_weight) +
         "</font></td><td align=\"left\"><font color=\"" + std::string(action_colour(f.act)) + "\">" +
         html(filter_action_text(f)) + "</font></td><td align=\"left\"><font point-size=\"9\">" +
         html(conditions_text(p, f)) + "</font></td></tr>";
  }
  t += "</table>>";
  return t;
}

// A per-layer fact of compiled<P> (Fact::operator()<L>()), as a run-time table.
template <std::size_t... I>
constexpr std::array<bool, layer_count> per_layer(auto fact, std::index_sequence<I...>) {
  return {fact.template operator()<static_cast<layer_id>(I)>()...};
}
// The layers compiled<P> generates code for (compiled<P>::has_filters), and those it evaluates through an
// index of their exact conditions (compiled<P>::indexed).
template <class C>
inline constexpr std::array<bool, layer_count> generates_code = per_layer(
    []<layer_id L>() { return C::template has_filters<L>; }, std::make_index_sequence<layer_count>{});
template <class C>
inline constexpr std::array<bool, layer_count> indexed_layers =
    per_layer([]<layer_id L>() { return C::template indexed<L>; }, std::make_index_sequence<layer_count>{});

template <class T>
inline constexpr bool is_compiled_v = false;
template <auto const& P>
inline constexpr bool is_compiled_v<compiled<P>> = true;

inline std::string path_title(path_key key) {
  std::string out(name(key.kind));
  out += key.fam == family::v6 ? " (v6" : " (v4";
  out += key.reassembled ? ", reassembled)" : ")";
  return out;
}
inline std::string step_label(const step& s) {
  std::string out(short_identifier(s.layer));
  if (s.flags != 0) out += " [" + flag_names(s.flags) + "]";
  return out;
}

}  // namespace detail::render

/// The Compiled concept: a pipeline type made by compiled<P>.
template <class C>
concept Compiled = detail::render::is_compiled_v<C>;

// ----------------------------------------------------------------------------------------------------
// (a) A policy
// ----------------------------------------------------------------------------------------------------

/// The policy as text: a header (filters, sublayers by weight, default action), then each layer with
/// filters, in catalogue order, with its sublayers and filters in evaluation order (name, effective
/// weight, action and flags, conditions) and what happens when nothing decides.
template <Policy P>
std::string to_text(const P& p) {
  namespace r = detail::render;
  std::string out = "policy: " + r::count_text(P::filter_count, "filter", "filters");
  std::size_t layers = 0;
  for (layer_id l : all_layers) layers += p.has_filters_at(l) ? 1 : 0;
  out += " at " + r::count_text(layers, "layer", "layers");
  out += ", default action ";
  out += name(p.default_action);
  out += '\n';
  out += "sublayers by weight:";
  if (p.sublayer_list().empty()) out += " none";
  for (std::size_t i = 0; i < p.sublayer_list().size(); ++i) {
    const sublayer& s = p.sublayer_list()[i];
    out += i == 0 ? " " : ", ";
    out += std::string(s.name) + " " + r::hex4(s.weight);
  }
  out += '\n';
  for (layer_id l : all_layers) {
    if (!p.has_filters_at(l)) continue;
    out += '\n';
    out += short_identifier(l);
    out += ": " + r::count_text(p.evaluation_order(l).size(), "filter", "filters") + '\n';
    r::layer_filters_text(out, p, l, "  ");
    if (is_discard(l))
      out +=
          "  (a discard layer: the packet is dropped either way; a block here suppresses the stack's "
          "answer)\n";
    else
      out += std::string("  nothing decided: ") + std::string(name(p.default_action)) +
             " (the policy's default)\n";
  }
  return out;
}

/// The policy as a Graphviz digraph: one cluster per layer with filters, one cluster per sublayer
/// inside it, the filters as nodes chained in evaluation order, ending in the layer's default.
template <Policy P>
std::string to_dot(const P& p) {
  namespace r = detail::render;
  std::string out = "digraph policy {\n";
  out += r::dot_header_attrs;
  out += "  graph [rankdir=TB, label=" +
         r::dot_id_text("policy: " + r::count_text(P::filter_count, "filter", "filters") +
                        ", default action " + std::string(name(p.default_action))) +
         "];\n";
  out += "  node [shape=box, style=\"rounded\"];\n";
  for (layer_id l : all_layers) {
    if (!p.has_filters_at(l)) continue;
    const std::string lid(name(l));
    out += "  subgraph \"cluster_" + lid + "\" {\n";
    out +=
        "    label=" + r::dot_id_text(short_identifier(l)) + "; style=\"rounded,bold\"; color=\"#57606a\";\n";
    int current = -1;
    std::string previous;
    for (std::uint16_t fi : p.evaluation_order(l)) {
      const filter_value& f = p.filters[fi];
      if (f.sublayer_index != current) {
        if (current >= 0) out += "    }\n";
        current = f.sublayer_index;
        const sublayer& s = p.sublayers[f.sublayer_index];
        out += "    subgraph " + r::dot_id_text("cluster_" + lid + "_" + std::string(s.name)) + " {\n";
        out += "      label=" + r::dot_id_text(std::string(s.name) + " " + r::hex4(s.weight)) +
               "; style=\"rounded,dashed\"; color=\"#8c959f\";\n";
      }
      std::string fid = "f";
      detail::append_decimal(fid, fi);
      out += "      " + fid + " [label=" +
             r::dot_id_text(std::string(f.name) + "\n" + r::hex16(f.effective_weight) + "\n" +
                            filter_action_text(f) + "\n" + conditions_text(p, f)) +
             ", color=\"" + std::string(r::action_colour(f.act)) + "\"];\n";
      previous += previous.empty() ? fid : " -> " + fid;
    }
    if (current >= 0) out += "    }\n";
    const std::string end_id = lid + "_otherwise";
    const std::string end_label = is_discard(l) ? std::string("dropped either way")
                                                : "nothing decided: " + std::string(name(p.default_action));
    out += "    " + end_id + " [label=" + r::dot_id_text(end_label) + ", shape=plaintext];\n";
    out += "    " + previous + " -> " + end_id + " [color=\"#8c959f\"];\n";
    out += "  }\n";
  }
  out += "}\n";
  return out;
}

// ----------------------------------------------------------------------------------------------------
// (b) A compiled pipeline
// ----------------------------------------------------------------------------------------------------

/// One path of the compiled pipeline C as text. Each step names its layer (and the flags the packet
/// carries there) and says whether it generates code; a layer with filters lists its sublayers and
/// filters in evaluation order, what nothing deciding means, and where a block goes (the layer's
/// _DISCARD twin, and the end). A step at a _DISCARD layer is the stack's own drop. The last line
/// gives the outcome when nothing blocks.
template <Compiled C>
std::string pipeline_text(path_key key) {
  namespace r = detail::render;
  const auto& p = C::policy;
  const auto& code = r::generates_code<C>;
  const step_list steps = steps_of(key);
  std::string out = "path " + r::path_title(key) + ": " + std::string(description(key.kind)) + '\n';
  std::size_t width = 0;
  for (const step& s : steps) width = std::max(width, r::step_label(s).size());
  bool stack_discard = false;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const step& s = steps[i];
    const layer_id l = s.layer;
    out += "  ";
    detail::append_decimal(out, i + 1);
    out += "  " + r::padded(r::step_label(s), width) + "  ";
    const std::size_t n = p.evaluation_order(l).size();
    if (!code[static_cast<std::size_t>(l)]) {
      out += "no filters: no code";
    } else {
      out += r::count_text(n, "filter", "filters");
      out += n > C::inline_limit ? ", outlined" : ", inlined";
      if (r::indexed_layers<C>[static_cast<std::size_t>(l)]) out += ", indexed on their exact conditions";
    }
    if (is_discard(l)) {
      out += "; the stack drops the packet here";
      stack_discard = true;
    }
    out += '\n';
    if (code[static_cast<std::size_t>(l)]) {
      r::layer_filters_text(out, p, l, "       ");
      if (is_discard(l)) {
        out += "       on block: the stack's answer is suppressed\n";
      } else {
        out += std::string("       nothing decided: ") + std::string(name(p.default_action)) + '\n';
        const layer_id twin = discard_twin(l);
        if (twin == layer_id::none) {
          out += "       on block → end (no discard layer)\n";
        } else {
          out += "       on block → " + std::string(short_identifier(twin)) + ", end";
          if (code[static_cast<std::size_t>(twin)]) {
            out += " (" + r::count_text(p.evaluation_order(twin).size(), "filter", "filters") + " there)\n";
            r::layer_filters_text(out, p, twin, "         ");
          } else {
            out += '\n';
          }
        }
      }
    }
    if (stack_discard) break;  // a discard step ends the path
  }
  out += stack_discard ? "  → block (dropped by the stack)\n" : "  → permit unless a layer blocks\n";
  return out;
}
template <Compiled C, Path Pa>
std::string pipeline_text(Pa) {
  return pipeline_text<C>(Pa::key);
}
/// Every path of all_path_keys, separated by blank lines.
template <Compiled C>
std::string pipeline_text() {
  std::string out;
  for (const path_key& k : all_path_keys) {
    if (!out.empty()) out += '\n';
    out += pipeline_text<C>(k);
  }
  return out;
}
template <auto const& P>
std::string pipeline_text(path_key key) {
  return pipeline_text<compiled<P>>(key);
}
template <auto const& P, Path Pa>
std::string pipeline_text(Pa) {
  return pipeline_text<compiled<P>>(Pa::key);
}
template <auto const& P>
std::string pipeline_text() {
  return pipeline_text<compiled<P>>();
}

namespace detail::render {

template <Compiled C>
void pipeline_dot_body(std::string& out, path_key key, std::string_view id, std::string_view indent) {
  const auto& p = C::policy;
  const auto& code = generates_code<C>;
  const step_list steps = steps_of(key);
  const std::string in(indent);
  const std::string pid(id);
  out += in + pid + "_start [label=" + dot_id_text(path_title(key)) +
         ", shape=box, style=\"rounded,filled\", fillcolor=\"#eaeef2\", color=\"#57606a\"];\n";
  std::string previous = pid + "_start";
  bool stack_discard = false;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const step& s = steps[i];
    const layer_id l = s.layer;
    std::string sid = pid + "_s";
    append_decimal(sid, i + 1);
    std::string number;
    append_decimal(number, i + 1);
    const bool has_code = code[static_cast<std::size_t>(l)];
    out += in + "subgraph \"cluster_" + sid + "\" {\n";
    out += in + "  label=" + dot_id_text(number + "  " + step_label(s)) + "; style=\"rounded" +
           (has_code ? ",bold" : ",dashed") + "\"; color=\"" + (is_discard(l) ? "#cf222e" : "#57606a") +
           "\";\n";
    if (has_code)
      out += in + "  " + sid + " [shape=plaintext, label=" + layer_table_html(p, l) + "];\n";
    else
      out += in + "  " + sid + " [shape=box, style=\"dashed\", color=\"#8c959f\", fontcolor=\"#57606a\", " +
             "label=\"no filters\\nno code\"];\n";
    out += in + "}\n";
    out += in + previous + " -> " + sid + ";\n";
    previous = sid;
    if (is_discard(l)) {
      stack_discard = true;
      break;
    }
    const layer_id twin = discard_twin(l);
    if (has_code) {
      const std::string did = sid + "_discard";
      std::string label = twin == layer_id::none ? std::string("end (no discard layer)")
                                                 : std::string(short_identifier(twin));
      if (twin != layer_id::none && code[static_cast<std::size_t>(twin)])
        label += "\n" + count_text(p.evaluation_order(twin).size(), "filter", "filters");
      out += in + did + " [label=" + dot_id_text(label) +
             ", shape=octagon, color=\"#cf222e\", fontcolor=\"#cf222e\"];\n";
      out += in + sid + " -> " + did +
             " [style=dashed, color=\"#cf222e\", fontcolor=\"#cf222e\", label=\"block\"];\n";
    }
  }
  const std::string eid = pid + "_end";
  if (stack_discard)
    out += in + eid + " [label=\"block\\n(dropped by the stack)\", shape=box, style=\"rounded,filled\", " +
           "fillcolor=\"#ffebe9\", color=\"#cf222e\"];\n";
  else
    out += in + eid + " [label=\"permit\", shape=box, style=\"rounded,filled\", fillcolor=\"#dafbe1\", " +
           "color=\"#1a7f37\"];\n";
  out += in + previous + " -> " + eid + ";\n";
}

}  // namespace detail::render

/// Several paths of the compiled pipeline C as one Graphviz digraph: per path a left-to-right chain
/// of clusters, one per step (the layer, its flags, a table of its sublayers and filters in evaluation
/// order, or "no code"), and a dashed red edge from each layer that can block to its _DISCARD twin.
template <Compiled C>
std::string pipeline_dot(std::span<const path_key> keys) {
  namespace r = detail::render;
  std::string out = "digraph pipeline {\n";
  out += r::dot_header_attrs;
  out += "  graph [rankdir=LR, nodesep=0.3, ranksep=0.35];\n";
  for (std::size_t i = 0; i < keys.size(); ++i) {
    std::string id = "p";
    detail::append_decimal(id, i);
    if (keys.size() == 1) {
      out += "  label=" +
             r::dot_id_text(r::path_title(keys[i]) + ": " + std::string(description(keys[i].kind))) + ";\n";
      r::pipeline_dot_body<C>(out, keys[i], id, "  ");
    } else {
      out += "  subgraph \"cluster_" + id + "\" {\n";
      out += "    label=" +
             r::dot_id_text(r::path_title(keys[i]) + ": " + std::string(description(keys[i].kind))) +
             "; style=\"rounded\"; color=\"#d0d7de\";\n";
      r::pipeline_dot_body<C>(out, keys[i], id, "    ");
      out += "  }\n";
    }
  }
  out += "}\n";
  return out;
}
template <Compiled C>
std::string pipeline_dot(path_key key) {
  return pipeline_dot<C>(std::span<const path_key>(&key, 1));
}
template <Compiled C, Path Pa>
std::string pipeline_dot(Pa) {
  return pipeline_dot<C>(Pa::key);
}
/// Every path of all_path_keys in one digraph.
template <Compiled C>
std::string pipeline_dot() {
  return pipeline_dot<C>(std::span<const path_key>(all_path_keys));
}
template <auto const& P>
std::string pipeline_dot(std::span<const path_key> keys) {
  return pipeline_dot<compiled<P>>(keys);
}
template <auto const& P>
std::string pipeline_dot(path_key key) {
  return pipeline_dot<compiled<P>>(key);
}
template <auto const& P, Path Pa>
std::string pipeline_dot(Pa) {
  return pipeline_dot<compiled<P>>(Pa::key);
}
template <auto const& P>
std::string pipeline_dot() {
  return pipeline_dot<compiled<P>>();
}

// ----------------------------------------------------------------------------------------------------
// (c) A trace
// ----------------------------------------------------------------------------------------------------

/// Layer names in a trace line: abbreviated as in user-experience.md, or WFP's identifiers.
enum class layer_names : std::uint8_t { abbreviated, identifier };

namespace detail::render {

// What decided at one step: "admin/ssh-from-lan: permit, hard", "default: block", or "".
template <Policy P>
std::string decision_text(const P& p, const step_record& s) {
  std::string out;
  if (s.filter >= 0 && static_cast<std::size_t>(s.filter) < P::filter_count) {
    const filter_value& f = p.filters[static_cast<std::size_t>(s.filter)];
    const std::size_t sub = s.sublayer >= 0 ? static_cast<std::size_t>(s.sublayer) : f.sublayer_index;
    out = std::string(p.sublayers[sub].name) + "/" + std::string(f.name) + ": " + std::string(name(s.act));
    if (s.hard && s.act == action::permit) out += ", hard";
    if (s.veto) out += ", veto";
  } else if (s.act == action::none && p.has_filters_at(s.layer) && p.default_action == action::block &&
             !is_discard(s.layer)) {
    out = "default: block";
  }
  return out;
}

}  // namespace detail::render

/// A trace as one line: the layers visited, in order, each with its flags in parentheses
/// ("IPPACKET(IS_FRAGMENT)") and, where
/// something decided, "[sublayer/filter: action, hard]" (or "[default: block]" when the policy's
/// default blocked): `IPPACKET → TRANSPORT → AUTH_RECV_ACCEPT [admin/ssh-from-lan: permit, hard]`.
/// Empty for an empty trace.
template <Policy P>
std::string to_text(const trace& t, const P& p, layer_names names = layer_names::abbreviated) {
  std::string out;
  for (const step_record& s : t) {
    if (!out.empty()) out += " → ";
    out += names == layer_names::abbreviated ? abbreviated(s.layer) : std::string(short_identifier(s.layer));
    if (s.flags != 0) out += "(" + flag_names(s.flags, ",") + ")";
    const std::string d = detail::render::decision_text(p, s);
    if (!d.empty()) out += " [" + d + "]";
  }
  return out;
}

namespace detail::render {

template <Policy P>
std::string trace_dot(const trace& t, const P& p, std::string_view title, const path_result* result) {
  std::string out = "digraph trace {\n";
  out += dot_header_attrs;
  out += "  graph [rankdir=LR, nodesep=0.3, ranksep=0.35";
  if (!title.empty()) out += ", label=" + dot_id_text(title);
  out += "];\n";
  out += "  node [shape=box, style=\"rounded\"];\n";
  std::string previous;
  for (std::size_t i = 0; i < t.size(); ++i) {
    const step_record& s = t[i];
    std::string sid = "s";
    append_decimal(sid, i + 1);
    std::string label(short_identifier(s.layer));
    if (s.flags != 0) label += "\n" + flag_names(s.flags);
    const std::string d = decision_text(p, s);
    if (!d.empty()) label += "\n" + d;
    const bool discard = is_discard(s.layer);
    std::string colour = "#57606a";
    if (s.act == action::permit) colour = "#1a7f37";
    if (s.act == action::block || discard || d == "default: block") colour = "#cf222e";
    out += "  " + sid + " [label=" + dot_id_text(label) + ", color=\"" + colour + "\"" +
           (discard ? ", shape=octagon, style=\"\"" : "") + (d.empty() ? "" : ", penwidth=2") + "];\n";
    if (!previous.empty())
      out += "  " + previous + " -> " + sid + (discard ? " [style=dashed, color=\"#cf222e\"]" : "") + ";\n";
    previous = sid;
  }
  if (result != nullptr) {
    const bool blocked = result->verdict == action::block;
    std::string label(name(result->verdict));
    if (result->filter >= 0)
      label += "\n" + std::string(p.filters[static_cast<std::size_t>(result->filter)].name);
    if (result->stack_discard) label += "\n(dropped by the stack)";
    if (result->answer_suppressed) label += "\nanswer suppressed";
    out += "  verdict [label=" + dot_id_text(label) + ", style=\"rounded,filled\", fillcolor=\"" +
           (blocked ? "#ffebe9" : "#dafbe1") + "\", color=\"" + (blocked ? "#cf222e" : "#1a7f37") + "\"];\n";
    if (!previous.empty()) out += "  " + previous + " -> verdict;\n";
  }
  out += "}\n";
  return out;
}

}  // namespace detail::render

/// A trace as a Graphviz digraph: the visited layers left to right, decisions in the nodes,
/// _DISCARD layers as red octagons reached by a dashed edge. `title` labels the graph (e.g. the flow).
template <Policy P>
std::string to_dot(const trace& t, const P& p, std::string_view title = {}) {
  return detail::render::trace_dot(t, p, title, nullptr);
}
/// The same, ending in the path's verdict (and the filter that decided it).
template <Policy P>
std::string to_dot(const trace& t, const P& p, const path_result& result, std::string_view title = {}) {
  return detail::render::trace_dot(t, p, title, &result);
}

}  // namespace strata
