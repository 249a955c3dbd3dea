// Paths: every traversal of ../shared/spec/traversal.md §4–8 as a type listing its steps. A path is
// what one packet visits, in order, from the observed host's point of view.
//
//   path::tcp::inbound_syn<v4>      INBOUND_IPPACKET_V4, INBOUND_TRANSPORT_V4, ALE_AUTH_RECV_ACCEPT_V4
//   path::reassembled<path::udp::inbound_first<v6>>   the frame that completes an IPv6 datagram
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include <strata/field.hpp>
#include <strata/layer.hpp>

namespace strata {

/// One step of a path: a layer, and the condition flags the packet carries there.
struct step {
  layer_id layer = layer_id::none;
  std::uint32_t flags = 0;
  friend constexpr bool operator==(const step&, const step&) = default;
};

/// A short list of steps (no path has more than ten).
struct step_list {
  static constexpr std::size_t capacity = 12;
  std::array<step, capacity> items{};
  std::uint8_t count = 0;
  constexpr void push(step s) { items[count++] = s; }
  constexpr const step* begin() const { return items.data(); }
  constexpr const step* end() const { return items.data() + count; }
  constexpr std::size_t size() const { return count; }
  constexpr const step& operator[](std::size_t i) const { return items[i]; }
};

// Path kinds: one per row of traversal.md §4–8. Names say direction, protocol class and situation.
// clang-format off
#define STRATA_PATH_KINDS(X)                                                                              \
  X(tcp_active_open, "TCP outbound SYN, new flow (active open)")                                        \
  X(tcp_passive_open, "TCP listen() (socket event, not a packet)")                                       \
  X(tcp_inbound_syn, "TCP inbound SYN, new flow, listener present")                                     \
  X(tcp_inbound_syn_no_listener, "TCP inbound SYN, new flow, no listener")                              \
  X(tcp_outbound_syn_ack, "TCP outbound SYN-ACK")                                                         \
  X(tcp_inbound_syn_ack, "TCP inbound SYN-ACK")                                                           \
  X(tcp_outbound_final_ack, "TCP outbound final ACK of the client handshake")                            \
  X(tcp_outbound_final_ack_payload, "TCP outbound final ACK of the client handshake, with payload")      \
  X(tcp_inbound_final_ack, "TCP inbound final ACK of the server handshake")                              \
  X(tcp_inbound_final_ack_payload, "TCP inbound final ACK of the server handshake, with payload")        \
  X(tcp_outbound_data, "TCP outbound segment with payload, established flow")                            \
  X(tcp_inbound_data, "TCP inbound segment with payload, established flow")                              \
  X(tcp_outbound_segment, "TCP outbound segment (pure ACK, FIN, RST)")                                   \
  X(tcp_inbound_segment, "TCP inbound segment (pure ACK, FIN, RST)")                                     \
  X(tcp_inbound_reauthorize, "TCP inbound segment of a flow under reauthorization (inbound-created)")    \
  X(tcp_inbound_reauthorize_payload, "TCP inbound data of a flow under reauthorization (inbound-created)") \
  X(tcp_inbound_reauthorize_connect, "TCP inbound segment of a flow under reauthorization (outbound-created)") \
  X(tcp_inbound_reauthorize_connect_payload,                                                              \
    "TCP inbound data of a flow under reauthorization (outbound-created)")                               \
  X(tcp_outbound_reauthorize, "TCP outbound segment of a flow under reauthorization (outbound-created)") \
  X(tcp_outbound_reauthorize_payload, "TCP outbound data of a flow under reauthorization (outbound-created)") \
  X(tcp_outbound_reauthorize_accept, "TCP outbound segment of a flow under reauthorization (inbound-created)") \
  X(tcp_outbound_reauthorize_accept_payload,                                                              \
    "TCP outbound data of a flow under reauthorization (inbound-created)")                               \
  X(datagram_outbound_first_bind, "non-TCP outbound, new flow, endpoint not yet bound")                  \
  X(datagram_outbound_first, "non-TCP outbound, new flow")                                                \
  X(datagram_inbound_first, "non-TCP inbound, new flow, listener present")                               \
  X(datagram_inbound_no_listener, "non-TCP inbound, new flow, no listener")                              \
  X(datagram_outbound, "non-TCP outbound, existing flow")                                                 \
  X(datagram_inbound, "non-TCP inbound, existing flow")                                                   \
  X(datagram_inbound_reauthorize, "non-TCP inbound, flow under reauthorization (inbound-created)")       \
  X(datagram_inbound_reauthorize_connect, "non-TCP inbound, flow under reauthorization (outbound-created)") \
  X(datagram_outbound_reauthorize, "non-TCP outbound, flow under reauthorization (outbound-created)")     \
  X(datagram_outbound_reauthorize_accept, "non-TCP outbound, flow under reauthorization (inbound-created)") \
  X(icmp_error_outbound, "ICMP error sent by the host")                                                   \
  X(icmp_error_inbound, "ICMP error received by the host")                                                \
  X(forward, "forwarded packet")                                                                           \
  X(forward_fragment, "forwarded fragment")                                                                \
  X(inbound_fragment, "inbound fragment that does not complete its datagram")                            \
  X(mac_inbound, "any received frame, when the policy has MAC-frame filters")                            \
  X(mac_outbound, "any sent frame, when the policy has MAC-frame filters")
// clang-format on

enum class path_kind : std::uint8_t {
#define STRATA_X(id, text) id,
  STRATA_PATH_KINDS(STRATA_X)
#undef STRATA_X
};
inline constexpr std::size_t path_kind_count = 0
#define STRATA_X(id, text) +1
    STRATA_PATH_KINDS(STRATA_X)
#undef STRATA_X
    ;

constexpr std::string_view name(path_kind k) {
  constexpr std::array<std::string_view, path_kind_count> names{
#define STRATA_X(id, text) std::string_view{#id},
      STRATA_PATH_KINDS(STRATA_X)
#undef STRATA_X
  };
  return names[static_cast<std::size_t>(k)];
}
constexpr std::string_view description(path_kind k) {
  constexpr std::array<std::string_view, path_kind_count> texts{
#define STRATA_X(id, text) std::string_view{text},
      STRATA_PATH_KINDS(STRATA_X)
#undef STRATA_X
  };
  return texts[static_cast<std::size_t>(k)];
}

/// Whether a kind begins at INBOUND_IPPACKET, so that a reassembled datagram can take it.
constexpr bool starts_inbound(path_kind k);

/// Identifies one path: kind, family and whether the packet completes a reassembly.
struct path_key {
  path_kind kind = path_kind::tcp_inbound_segment;
  family fam = family::v4;
  bool reassembled = false;
  friend constexpr bool operator==(const path_key&, const path_key&) = default;
};

/// The steps of a path (traversal.md §4–8). V4 layers are written; V6 ones follow from the family.
constexpr step_list steps_of(path_kind k, family f) {
  using enum layer_id;
  step_list s;
  auto add = [&](layer_id v4_layer, std::uint32_t flags = 0) { s.push({for_family(v4_layer, f), flags}); };
  constexpr std::uint32_t reauth = flag::is_reauthorize;
  switch (k) {
    case path_kind::tcp_active_open:
      add(ale_bind_redirect_v4), add(ale_resource_assignment_v4), add(ale_connect_redirect_v4),
          add(ale_auth_connect_v4), add(outbound_transport_v4), add(outbound_ippacket_v4);
      break;
    case path_kind::tcp_passive_open:
      add(ale_bind_redirect_v4), add(ale_resource_assignment_v4), add(ale_auth_listen_v4);
      break;
    case path_kind::tcp_inbound_syn:
      add(inbound_ippacket_v4), add(inbound_transport_v4), add(ale_auth_recv_accept_v4);
      break;
    case path_kind::tcp_inbound_syn_no_listener:
      add(inbound_ippacket_v4), add(inbound_transport_v4_discard);
      break;
    case path_kind::tcp_outbound_syn_ack:
    case path_kind::tcp_outbound_segment:
      add(outbound_transport_v4), add(outbound_ippacket_v4);
      break;
    case path_kind::tcp_inbound_syn_ack:
    case path_kind::tcp_inbound_segment:
      add(inbound_ippacket_v4), add(inbound_transport_v4);
      break;
    case path_kind::tcp_outbound_final_ack:
      add(ale_flow_established_v4), add(outbound_transport_v4), add(outbound_ippacket_v4);
      break;
    case path_kind::tcp_outbound_final_ack_payload:
      add(ale_flow_established_v4), add(stream_v4), add(outbound_transport_v4), add(outbound_ippacket_v4);
      break;
    case path_kind::tcp_inbound_final_ack:
      add(inbound_ippacket_v4), add(inbound_transport_v4), add(ale_flow_established_v4);
      break;
    case path_kind::tcp_inbound_final_ack_payload:
      add(inbound_ippacket_v4), add(inbound_transport_v4), add(ale_flow_established_v4), add(stream_v4);
      break;
    case path_kind::tcp_outbound_data:
      add(stream_v4), add(outbound_transport_v4), add(outbound_ippacket_v4);
      break;
    case path_kind::tcp_inbound_data:
      add(inbound_ippacket_v4), add(inbound_transport_v4), add(stream_v4);
      break;
    case path_kind::tcp_inbound_reauthorize:
    case path_kind::tcp_inbound_reauthorize_payload:
    case path_kind::tcp_inbound_reauthorize_connect:
    case path_kind::tcp_inbound_reauthorize_connect_payload: {
      const bool accept =
          k == path_kind::tcp_inbound_reauthorize || k == path_kind::tcp_inbound_reauthorize_payload;
      add(inbound_ippacket_v4), add(inbound_transport_v4);
      add(accept ? ale_auth_recv_accept_v4 : ale_auth_connect_v4, reauth);
      if (k == path_kind::tcp_inbound_reauthorize_payload ||
          k == path_kind::tcp_inbound_reauthorize_connect_payload)
        add(stream_v4);
      break;
    }
    case path_kind::tcp_outbound_reauthorize:
    case path_kind::tcp_outbound_reauthorize_payload:
    case path_kind::tcp_outbound_reauthorize_accept:
    case path_kind::tcp_outbound_reauthorize_accept_payload: {
      const bool accept = k == path_kind::tcp_outbound_reauthorize_accept ||
                          k == path_kind::tcp_outbound_reauthorize_accept_payload;
      add(accept ? ale_auth_recv_accept_v4 : ale_auth_connect_v4, reauth);
      if (k == path_kind::tcp_outbound_reauthorize_payload ||
          k == path_kind::tcp_outbound_reauthorize_accept_payload)
        add(stream_v4);
      add(outbound_transport_v4), add(outbound_ippacket_v4);
      break;
    }
    case path_kind::datagram_outbound_first_bind:
      add(ale_bind_redirect_v4), add(ale_resource_assignment_v4);
      [[fallthrough]];
    case path_kind::datagram_outbound_first:
      add(ale_connect_redirect_v4), add(ale_auth_connect_v4), add(ale_flow_established_v4),
          add(datagram_data_v4), add(outbound_transport_v4), add(outbound_ippacket_v4);
      break;
    case path_kind::datagram_inbound_first:
      add(inbound_ippacket_v4), add(inbound_transport_v4), add(ale_auth_recv_accept_v4),
          add(ale_flow_established_v4), add(datagram_data_v4);
      break;
    case path_kind::datagram_inbound_no_listener:
      add(inbound_ippacket_v4), add(inbound_ippacket_v4_discard);
      break;
    case path_kind::datagram_outbound:
      add(datagram_data_v4), add(outbound_transport_v4), add(outbound_ippacket_v4);
      break;
    case path_kind::datagram_inbound:
      add(inbound_ippacket_v4), add(inbound_transport_v4), add(datagram_data_v4);
      break;
    case path_kind::datagram_inbound_reauthorize:
    case path_kind::datagram_inbound_reauthorize_connect:
      add(inbound_ippacket_v4), add(inbound_transport_v4);
      add(k == path_kind::datagram_inbound_reauthorize ? ale_auth_recv_accept_v4 : ale_auth_connect_v4,
          reauth);
      add(datagram_data_v4);
      break;
    case path_kind::datagram_outbound_reauthorize:
    case path_kind::datagram_outbound_reauthorize_accept:
      add(k == path_kind::datagram_outbound_reauthorize ? ale_auth_connect_v4 : ale_auth_recv_accept_v4,
          reauth);
      add(datagram_data_v4), add(outbound_transport_v4), add(outbound_ippacket_v4);
      break;
    case path_kind::icmp_error_outbound:
      add(outbound_icmp_error_v4), add(outbound_transport_v4), add(outbound_ippacket_v4);
      break;
    case path_kind::icmp_error_inbound:
      add(inbound_ippacket_v4), add(inbound_transport_v4), add(inbound_icmp_error_v4);
      break;
    case path_kind::forward:
      add(ipforward_v4);
      break;
    case path_kind::forward_fragment:
      add(ipforward_v4, flag::is_fragment);
      break;
    case path_kind::inbound_fragment:
      add(inbound_ippacket_v4), add(inbound_ippacket_v4, flag::is_fragment);
      break;
    case path_kind::mac_inbound:  // §9: MAC layers come first, before the rows above
      add(inbound_mac_frame_native), add(inbound_mac_frame_ethernet);
      break;
    case path_kind::mac_outbound:
      add(outbound_mac_frame_ethernet), add(outbound_mac_frame_native);
      break;
  }
  return s;
}

constexpr bool starts_inbound(path_kind k) {
  const step_list s = steps_of(k, family::v4);
  return s.size() > 0 && s[0].layer == layer_id::inbound_ippacket_v4 && k != path_kind::inbound_fragment;
}

/// Whether a path kind reauthorizes its flow (an ALE step flagged IS_REAUTHORIZE, §8).
constexpr bool reauthorizes(path_kind k) {
  for (const step& s : steps_of(k, family::v4))
    if (s.flags & flag::is_reauthorize) return true;
  return false;
}

/// The steps of a path key: for a reassembled datagram, the completing fragment's own two
/// indications, then the datagram's path with IS_REASSEMBLED on its INBOUND_IPPACKET step (§5).
constexpr step_list steps_of(path_key key) {
  const step_list base = steps_of(key.kind, key.fam);
  if (!key.reassembled || !starts_inbound(key.kind)) return base;
  step_list s = steps_of(path_kind::inbound_fragment, key.fam);
  for (std::size_t i = 0; i < base.size(); ++i) {
    step st = base[i];
    if (i == 0) st.flags |= flag::is_reassembled;
    s.push(st);
  }
  return s;
}

/// Every path key: each kind for both families, and the reassembled variant of each inbound kind.
inline constexpr auto all_path_keys = [] {
  constexpr std::size_t inbound_kinds = [] {
    std::size_t n = 0;
    for (std::size_t k = 0; k < path_kind_count; ++k) n += starts_inbound(static_cast<path_kind>(k)) ? 1 : 0;
    return n;
  }();
  std::array<path_key, 2 * (path_kind_count + inbound_kinds)> keys{};
  std::size_t i = 0;
  for (family f : {family::v4, family::v6}) {
    for (std::size_t k = 0; k < path_kind_count; ++k) keys[i++] = {static_cast<path_kind>(k), f, false};
    for (std::size_t k = 0; k < path_kind_count; ++k)
      if (starts_inbound(static_cast<path_kind>(k))) keys[i++] = {static_cast<path_kind>(k), f, true};
  }
  return keys;
}();

/// The dense index of a key in all_path_keys (the run-time dispatch uses it).
constexpr std::size_t index_of(path_key key) {
  for (std::size_t i = 0; i < all_path_keys.size(); ++i)
    if (all_path_keys[i] == key) return i;
  return all_path_keys.size();
}

/// A path as a type.
template <path_kind K, class Family, bool Reassembled = false>
struct path_t {
  static constexpr path_key key{K, Family::value, Reassembled};
  static constexpr step_list steps = steps_of(key);
  static constexpr std::string_view name = strata::name(K);
  static constexpr std::string_view description = strata::description(K);
};

template <class T>
inline constexpr bool is_path_v = false;
template <path_kind K, class F, bool R>
inline constexpr bool is_path_v<path_t<K, F, R>> = true;
/// The Path concept: one of the types in strata::path.
template <class T>
concept Path = is_path_v<T>;

namespace path {
template <class P>
requires(is_path_v<P>&& starts_inbound(P::key.kind)) using reassembled =
    path_t<P::key.kind, std::conditional_t<P::key.fam == family::v4, v4, v6>, true>;

namespace tcp {
template <class F>
using active_open = path_t<path_kind::tcp_active_open, F>;
template <class F>
using passive_open = path_t<path_kind::tcp_passive_open, F>;
template <class F>
using inbound_syn = path_t<path_kind::tcp_inbound_syn, F>;
template <class F>
using inbound_syn_no_listener = path_t<path_kind::tcp_inbound_syn_no_listener, F>;
template <class F>
using outbound_syn_ack = path_t<path_kind::tcp_outbound_syn_ack, F>;
template <class F>
using inbound_syn_ack = path_t<path_kind::tcp_inbound_syn_ack, F>;
template <class F>
using outbound_final_ack = path_t<path_kind::tcp_outbound_final_ack, F>;
template <class F>
using outbound_final_ack_payload = path_t<path_kind::tcp_outbound_final_ack_payload, F>;
template <class F>
using inbound_final_ack = path_t<path_kind::tcp_inbound_final_ack, F>;
template <class F>
using inbound_final_ack_payload = path_t<path_kind::tcp_inbound_final_ack_payload, F>;
template <class F>
using outbound_data = path_t<path_kind::tcp_outbound_data, F>;
template <class F>
using inbound_data = path_t<path_kind::tcp_inbound_data, F>;
template <class F>
using outbound_segment = path_t<path_kind::tcp_outbound_segment, F>;
template <class F>
using inbound_segment = path_t<path_kind::tcp_inbound_segment, F>;
template <class F>
using inbound_reauthorize = path_t<path_kind::tcp_inbound_reauthorize, F>;
template <class F>
using inbound_reauthorize_payload = path_t<path_kind::tcp_inbound_reauthorize_payload, F>;
template <class F>
using outbound_reauthorize = path_t<path_kind::tcp_outbound_reauthorize, F>;
template <class F>
using outbound_reauthorize_payload = path_t<path_kind::tcp_outbound_reauthorize_payload, F>;
}  // namespace tcp

/// UDP and every other non-TCP protocol (ICMP queries included; ICMP errors excepted).
namespace udp {
template <class F>
using outbound_first_bind = path_t<path_kind::datagram_outbound_first_bind, F>;
template <class F>
using outbound_first = path_t<path_kind::datagram_outbound_first, F>;
template <class F>
using inbound_first = path_t<path_kind::datagram_inbound_first, F>;
template <class F>
using inbound_no_listener = path_t<path_kind::datagram_inbound_no_listener, F>;
template <class F>
using outbound = path_t<path_kind::datagram_outbound, F>;
template <class F>
using inbound = path_t<path_kind::datagram_inbound, F>;
template <class F>
using inbound_reauthorize = path_t<path_kind::datagram_inbound_reauthorize, F>;
template <class F>
using outbound_reauthorize = path_t<path_kind::datagram_outbound_reauthorize, F>;
}  // namespace udp

namespace icmp_error {
template <class F>
using outbound = path_t<path_kind::icmp_error_outbound, F>;
template <class F>
using inbound = path_t<path_kind::icmp_error_inbound, F>;
}  // namespace icmp_error

template <class F>
using forward = path_t<path_kind::forward, F>;
template <class F>
using forward_fragment = path_t<path_kind::forward_fragment, F>;
template <class F>
using inbound_fragment = path_t<path_kind::inbound_fragment, F>;

/// §9: the MAC-frame layers every frame visits first when the policy has filters there.
namespace mac {
using inbound = path_t<path_kind::mac_inbound, v4>;
using outbound = path_t<path_kind::mac_outbound, v4>;
}  // namespace mac
}  // namespace path

/// Discard modules and reasons reported at _DISCARD layers (FWPS_DISCARD_MODULE0 and the reason
/// names of WFP; their numbers are not documented, so strata keys them on names).
enum class discard_module_code : std::uint32_t { network = 0, transport = 1, general = 2 };
enum class discard_reason_code : std::uint32_t {
  firewall_policy = 0,     ///< GENERAL: a filter returned block
  endpoint_not_found = 1,  ///< TRANSPORT: a TCP SYN nobody listens for
  port_unreachable = 2,    ///< NETWORK: a datagram nobody listens for
};

}  // namespace strata
