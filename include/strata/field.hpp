// Fields: what a layer offers to its filters (WFP's FWPM_CONDITION_* identifiers), and the values a
// packet presents at classification time (WFP's FWPS_INCOMING_VALUES0).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include <strata/address.hpp>

namespace strata {

/// How a field's value is held and compared.
enum class value_kind : std::uint8_t {
  integer,  ///< UINT8..UINT64: ports, protocol, flags, indexes (compared as 64-bit)
  address,  ///< UINT32 (v4) or BYTE_ARRAY16 (v6), also matchable with an address mask
  text,     ///< BYTE_BLOB / UNICODE_STRING (application ids, peer names)
};

// One list, so the enum, names and kinds cannot drift apart. WFP's names without FWPM_CONDITION_.
// clang-format off
#define STRATA_FIELDS(X)                                          \
  X(ip_protocol, "IP_PROTOCOL", integer)                          \
  X(ip_local_address, "IP_LOCAL_ADDRESS", address)                \
  X(ip_remote_address, "IP_REMOTE_ADDRESS", address)              \
  X(ip_local_address_type, "IP_LOCAL_ADDRESS_TYPE", integer)      \
  X(ip_destination_address_type, "IP_DESTINATION_ADDRESS_TYPE", integer) \
  X(ip_local_port, "IP_LOCAL_PORT", integer)                      \
  X(ip_remote_port, "IP_REMOTE_PORT", integer)                    \
  X(ip_local_interface, "IP_LOCAL_INTERFACE", integer)            \
  X(interface_index, "INTERFACE_INDEX", integer)                  \
  X(sub_interface_index, "SUB_INTERFACE_INDEX", integer)          \
  X(interface_type, "INTERFACE_TYPE", integer)                    \
  X(tunnel_type, "TUNNEL_TYPE", integer)                          \
  X(flags, "FLAGS", integer)                                      \
  X(direction, "DIRECTION", integer)                              \
  X(compartment_id, "COMPARTMENT_ID", integer)                    \
  X(ip_source_address, "IP_SOURCE_ADDRESS", address)              \
  X(ip_destination_address, "IP_DESTINATION_ADDRESS", address)    \
  X(ip_forward_interface, "IP_FORWARD_INTERFACE", integer)        \
  X(source_interface_index, "SOURCE_INTERFACE_INDEX", integer)    \
  X(destination_interface_index, "DESTINATION_INTERFACE_INDEX", integer) \
  X(embedded_protocol, "EMBEDDED_PROTOCOL", integer)              \
  X(embedded_remote_address, "EMBEDDED_REMOTE_ADDRESS", address)  \
  X(embedded_local_address_type, "EMBEDDED_LOCAL_ADDRESS_TYPE", integer) \
  X(embedded_local_port, "EMBEDDED_LOCAL_PORT", integer)          \
  X(embedded_remote_port, "EMBEDDED_REMOTE_PORT", integer)        \
  X(ip_arrival_interface, "IP_ARRIVAL_INTERFACE", integer)        \
  X(arrival_interface_index, "ARRIVAL_INTERFACE_INDEX", integer)  \
  X(ip_nexthop_interface, "IP_NEXTHOP_INTERFACE", integer)        \
  X(nexthop_interface_index, "NEXTHOP_INTERFACE_INDEX", integer)  \
  X(ale_app_id, "ALE_APP_ID", text)                               \
  X(ale_user_id, "ALE_USER_ID", text)                             \
  X(ale_remote_user_id, "ALE_REMOTE_USER_ID", text)               \
  X(ale_remote_machine_id, "ALE_REMOTE_MACHINE_ID", text)         \
  X(ale_promiscuous_mode, "ALE_PROMISCUOUS_MODE", integer)        \
  X(ale_original_app_id, "ALE_ORIGINAL_APP_ID", text)             \
  X(ale_effective_name, "ALE_EFFECTIVE_NAME", text)               \
  X(peer_name, "PEER_NAME", text)                                 \
  X(current_profile_id, "CURRENT_PROFILE_ID", integer)            \
  X(original_profile_id, "ORIGINAL_PROFILE_ID", integer)          \
  X(reauthorize_reason, "REAUTHORIZE_REASON", integer)            \
  X(original_icmp_type, "ORIGINAL_ICMP_TYPE", integer)            \
  X(ipsec_security_realm_id, "IPSEC_SECURITY_REALM_ID", integer)  \
  X(sio_firewall_system_port, "SIO_FIREWALL_SYSTEM_PORT", integer) \
  X(nap_context, "NAP_CONTEXT", integer)                          \
  X(local_interface_profile_id, "LOCAL_INTERFACE_PROFILE_ID", integer) \
  X(discard_module, "DISCARD_MODULE", integer)                    \
  X(discard_reason, "DISCARD_REASON", integer)                    \
  X(ether_type, "ETHER_TYPE", integer)                            \
  X(vlan_id, "VLAN_ID", integer)                                  \
  X(mac_local_address, "MAC_LOCAL_ADDRESS", integer)              \
  X(mac_remote_address, "MAC_REMOTE_ADDRESS", integer)            \
  X(mac_local_address_type, "MAC_LOCAL_ADDRESS_TYPE", integer)    \
  X(mac_remote_address_type, "MAC_REMOTE_ADDRESS_TYPE", integer)  \
  X(interface_mac_address, "INTERFACE_MAC_ADDRESS", integer)      \
  X(ndis_port, "NDIS_PORT", integer)                              \
  X(l2_flags, "L2_FLAGS", integer)                                \
  X(ndis_media_type, "NDIS_MEDIA_TYPE", integer)                  \
  X(ndis_physical_media_type, "NDIS_PHYSICAL_MEDIA_TYPE", integer) \
  X(vswitch_id, "VSWITCH_ID", text)
// clang-format on

enum class field_id : std::uint8_t {
#define STRATA_X(id, wfp, kind) id,
  STRATA_FIELDS(STRATA_X)
#undef STRATA_X
};

inline constexpr std::size_t field_count = 0
#define STRATA_X(id, wfp, kind) +1
    STRATA_FIELDS(STRATA_X)
#undef STRATA_X
    ;
static_assert(field_count <= 64, "a layer's offered fields are kept in one 64-bit set");

namespace detail {
inline constexpr std::array<std::string_view, field_count> field_names{
#define STRATA_X(id, wfp, kind) std::string_view{wfp},
    STRATA_FIELDS(STRATA_X)
#undef STRATA_X
};
inline constexpr std::array<std::string_view, field_count> field_spellings{
#define STRATA_X(id, wfp, kind) std::string_view{#id},
    STRATA_FIELDS(STRATA_X)
#undef STRATA_X
};
inline constexpr std::array<value_kind, field_count> field_kinds{
#define STRATA_X(id, wfp, kind) value_kind::kind,
    STRATA_FIELDS(STRATA_X)
#undef STRATA_X
};
}  // namespace detail

/// WFP's name of a field ("IP_LOCAL_PORT").
constexpr std::string_view name(field_id f) { return detail::field_names[static_cast<std::size_t>(f)]; }
/// strata's spelling of a field ("ip_local_port").
constexpr std::string_view spelling(field_id f) {
  return detail::field_spellings[static_cast<std::size_t>(f)];
}
constexpr value_kind kind(field_id f) { return detail::field_kinds[static_cast<std::size_t>(f)]; }

/// A set of fields (what a layer offers).
struct field_set {
  std::uint64_t bits = 0;
  constexpr bool contains(field_id f) const { return (bits >> static_cast<unsigned>(f)) & 1u; }
  constexpr field_set operator|(field_set o) const { return {bits | o.bits}; }
  constexpr field_set operator-(field_set o) const { return {bits & ~o.bits}; }
  friend constexpr bool operator==(field_set, field_set) = default;
};
template <class... F>
constexpr field_set fields_of(F... f) {
  return {((std::uint64_t{1} << static_cast<unsigned>(f)) | ... | 0u)};
}

/// FWP_CONDITION_FLAG_* (the value of the FLAGS field).
namespace flag {
inline constexpr std::uint32_t is_loopback = 0x1;
inline constexpr std::uint32_t is_ipsec_secured = 0x2;
inline constexpr std::uint32_t is_reauthorize = 0x4;
inline constexpr std::uint32_t is_wildcard_bind = 0x8;
inline constexpr std::uint32_t is_raw_endpoint = 0x10;
inline constexpr std::uint32_t is_fragment = 0x20;
inline constexpr std::uint32_t is_fragment_group = 0x40;
inline constexpr std::uint32_t is_ipsec_natt_reclassify = 0x80;
inline constexpr std::uint32_t requires_ale_classify = 0x100;
inline constexpr std::uint32_t is_implicit_bind = 0x200;
inline constexpr std::uint32_t is_reassembled = 0x400;
inline constexpr std::uint32_t is_name_app_specified = 0x4000;
inline constexpr std::uint32_t is_promiscuous = 0x8000;
inline constexpr std::uint32_t is_auth_fw = 0x10000;
inline constexpr std::uint32_t is_reclassify = 0x20000;
inline constexpr std::uint32_t is_outbound_pass_thru = 0x40000;
inline constexpr std::uint32_t is_inbound_pass_thru = 0x80000;
inline constexpr std::uint32_t is_connection_redirected = 0x100000;
inline constexpr std::uint32_t is_proxy_connection = 0x200000;
inline constexpr std::uint32_t is_appcontainer_loopback = 0x400000;
inline constexpr std::uint32_t is_non_appcontainer_loopback = 0x800000;
inline constexpr std::uint32_t is_honoring_policy_authorize = 0x2000000;

/// Names of the flags, WFP's spelling without FWP_CONDITION_FLAG_, in bit order.
inline constexpr std::array<std::pair<std::uint32_t, std::string_view>, 22> names{{
    {is_loopback, "IS_LOOPBACK"},
    {is_ipsec_secured, "IS_IPSEC_SECURED"},
    {is_reauthorize, "IS_REAUTHORIZE"},
    {is_wildcard_bind, "IS_WILDCARD_BIND"},
    {is_raw_endpoint, "IS_RAW_ENDPOINT"},
    {is_fragment, "IS_FRAGMENT"},
    {is_fragment_group, "IS_FRAGMENT_GROUP"},
    {is_ipsec_natt_reclassify, "IS_IPSEC_NATT_RECLASSIFY"},
    {requires_ale_classify, "REQUIRES_ALE_CLASSIFY"},
    {is_implicit_bind, "IS_IMPLICIT_BIND"},
    {is_reassembled, "IS_REASSEMBLED"},
    {is_name_app_specified, "IS_NAME_APP_SPECIFIED"},
    {is_promiscuous, "IS_PROMISCUOUS"},
    {is_auth_fw, "IS_AUTH_FW"},
    {is_reclassify, "IS_RECLASSIFY"},
    {is_outbound_pass_thru, "IS_OUTBOUND_PASS_THRU"},
    {is_inbound_pass_thru, "IS_INBOUND_PASS_THRU"},
    {is_connection_redirected, "IS_CONNECTION_REDIRECTED"},
    {is_proxy_connection, "IS_PROXY_CONNECTION"},
    {is_appcontainer_loopback, "IS_APPCONTAINER_LOOPBACK"},
    {is_non_appcontainer_loopback, "IS_NON_APPCONTAINER_LOOPBACK"},
    {is_honoring_policy_authorize, "IS_HONORING_POLICY_AUTHORIZE"},
}};
}  // namespace flag

/// FWP_DIRECTION values of the DIRECTION field.
enum class fwp_direction : std::uint32_t { outbound = 0, inbound = 1 };

/// IANA protocol numbers, for readable conditions (`ip_protocol == proto::tcp`).
namespace proto {
inline constexpr std::uint8_t icmp = 1;
inline constexpr std::uint8_t tcp = 6;
inline constexpr std::uint8_t udp = 17;
inline constexpr std::uint8_t icmpv6 = 58;
}  // namespace proto

class set_data;  // strata/set_data.hpp

/// The values a packet presents to the filters of a layer (WFP's FWPS_INCOMING_VALUES0). A layer
/// only lets filters test the fields it offers; the others are simply not read. Fields unknown to an
/// observer (application ids offline, profile ids) stay empty, as WFP's FWP_EMPTY.
struct incoming_values {
  address local_address{};
  address remote_address{};
  std::uint16_t local_port = 0;   ///< ICMP: the type
  std::uint16_t remote_port = 0;  ///< ICMP: the code
  std::uint8_t ip_protocol = 0;
  std::uint8_t local_address_type = 0;
  std::uint8_t destination_address_type = 0;
  std::uint8_t embedded_protocol = 0;
  std::uint32_t flags = 0;
  std::uint32_t direction = 0;  ///< fwp_direction
  std::uint32_t interface_index = 0;
  std::uint32_t sub_interface_index = 0;
  std::uint32_t interface_type = 0;
  std::uint32_t tunnel_type = 0;
  std::uint32_t compartment_id = 0;
  std::uint32_t discard_module = 0;
  std::uint32_t discard_reason = 0;
  std::uint32_t reauthorize_reason = 0;
  std::uint16_t original_icmp_type = 0;
  std::uint16_t ether_type = 0;
  std::uint16_t vlan_id = 0;
  std::uint16_t embedded_local_port = 0;
  std::uint16_t embedded_remote_port = 0;
  address embedded_remote_address{};
  std::uint64_t local_interface = 0;
  std::uint64_t mac_local_address = 0;
  std::uint64_t mac_remote_address = 0;
  std::string_view app_id{};
  std::string_view user_id{};
  std::string_view peer_name{};
  /// The run-time sets of the policy being run, by the policy's set index (strata/sets.hpp); null:
  /// every set is empty.
  const set_data* const* sets = nullptr;
};

/// Reads an integer field. At forward layers source/destination are the packet's; strata keeps
/// them in the local/remote slots (source = remote for inbound-style forwarding, see engine).
template <field_id F>
constexpr std::uint64_t integer_value(const incoming_values& v) {
  using enum field_id;
  if constexpr (F == ip_protocol)
    return v.ip_protocol;
  else if constexpr (F == ip_local_port)
    return v.local_port;
  else if constexpr (F == ip_remote_port)
    return v.remote_port;
  else if constexpr (F == ip_local_address_type)
    return v.local_address_type;
  else if constexpr (F == ip_destination_address_type)
    return v.destination_address_type;
  else if constexpr (F == embedded_protocol)
    return v.embedded_protocol;
  else if constexpr (F == embedded_local_port)
    return v.embedded_local_port;
  else if constexpr (F == embedded_remote_port)
    return v.embedded_remote_port;
  else if constexpr (F == flags)
    return v.flags;
  else if constexpr (F == direction)
    return v.direction;
  else if constexpr (F == interface_index || F == source_interface_index || F == arrival_interface_index)
    return v.interface_index;
  else if constexpr (F == sub_interface_index)
    return v.sub_interface_index;
  else if constexpr (F == interface_type)
    return v.interface_type;
  else if constexpr (F == tunnel_type)
    return v.tunnel_type;
  else if constexpr (F == compartment_id)
    return v.compartment_id;
  else if constexpr (F == discard_module)
    return v.discard_module;
  else if constexpr (F == discard_reason)
    return v.discard_reason;
  else if constexpr (F == reauthorize_reason)
    return v.reauthorize_reason;
  else if constexpr (F == original_icmp_type)
    return v.original_icmp_type;
  else if constexpr (F == ether_type)
    return v.ether_type;
  else if constexpr (F == vlan_id)
    return v.vlan_id;
  else if constexpr (F == ip_local_interface || F == ip_arrival_interface)
    return v.local_interface;
  else if constexpr (F == mac_local_address)
    return v.mac_local_address;
  else if constexpr (F == mac_remote_address)
    return v.mac_remote_address;
  else
    return 0;  // empty: not observable here
}

template <field_id F>
constexpr address address_value(const incoming_values& v) {
  using enum field_id;
  if constexpr (F == ip_local_address || F == ip_destination_address)
    return v.local_address;
  else if constexpr (F == ip_remote_address || F == ip_source_address)
    return v.remote_address;
  else if constexpr (F == embedded_remote_address)
    return v.embedded_remote_address;
  else
    return {};
}

template <field_id F>
constexpr std::string_view text_value(const incoming_values& v) {
  using enum field_id;
  if constexpr (F == ale_app_id || F == ale_original_app_id)
    return v.app_id;
  else if constexpr (F == ale_user_id)
    return v.user_id;
  else if constexpr (F == peer_name || F == ale_effective_name)
    return v.peer_name;
  else
    return {};
}

/// Run-time read of any field (the generic evaluator and the analysis use it).
constexpr std::uint64_t integer_value(field_id f, const incoming_values& v) {
  switch (f) {
#define STRATA_X(id, wfp, kind) \
  case field_id::id:            \
    return integer_value<field_id::id>(v);
    STRATA_FIELDS(STRATA_X)
#undef STRATA_X
  }
  return 0;
}
constexpr address address_value(field_id f, const incoming_values& v) {
  switch (f) {
#define STRATA_X(id, wfp, kind) \
  case field_id::id:            \
    return address_value<field_id::id>(v);
    STRATA_FIELDS(STRATA_X)
#undef STRATA_X
  }
  return {};
}
constexpr std::string_view text_value(field_id f, const incoming_values& v) {
  switch (f) {
#define STRATA_X(id, wfp, kind) \
  case field_id::id:            \
    return text_value<field_id::id>(v);
    STRATA_FIELDS(STRATA_X)
#undef STRATA_X
  }
  return {};
}

}  // namespace strata
