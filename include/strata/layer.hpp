// Layers: every filtering layer of WFP's management identifiers (FWPM_LAYER_*), as a type in
// strata::layer with compile-time traits: identifier, family, direction, kind, discard twin and the
// fields it offers to filters.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include <strata/field.hpp>

namespace strata {

enum class layer_kind : std::uint8_t {
  network,
  forward,
  transport,
  stream,
  datagram,
  icmp_error,
  ale,
  mac,
  vswitch,
  user_mode
};
enum class layer_direction : std::uint8_t { inbound, outbound, both };

// One row per layer: strata name, WFP identifier, family, direction, kind, field group, discard
// twin (the base layer for a _DISCARD layer), and whether it is a _DISCARD layer. V4 and V6 rows
// stand next to each other so that the V6 twin of a V4 layer is the next identifier.
// clang-format off
#define STRATA_LAYERS(X) \
  X(inbound_ippacket_v4, "FWPM_LAYER_INBOUND_IPPACKET_V4", v4, inbound, network, ippacket, inbound_ippacket_v4_discard, false) \
  X(inbound_ippacket_v6, "FWPM_LAYER_INBOUND_IPPACKET_V6", v6, inbound, network, ippacket, inbound_ippacket_v6_discard, false) \
  X(inbound_ippacket_v4_discard, "FWPM_LAYER_INBOUND_IPPACKET_V4_DISCARD", v4, inbound, network, ippacket, inbound_ippacket_v4, true) \
  X(inbound_ippacket_v6_discard, "FWPM_LAYER_INBOUND_IPPACKET_V6_DISCARD", v6, inbound, network, ippacket, inbound_ippacket_v6, true) \
  X(outbound_ippacket_v4, "FWPM_LAYER_OUTBOUND_IPPACKET_V4", v4, outbound, network, ippacket, outbound_ippacket_v4_discard, false) \
  X(outbound_ippacket_v6, "FWPM_LAYER_OUTBOUND_IPPACKET_V6", v6, outbound, network, ippacket, outbound_ippacket_v6_discard, false) \
  X(outbound_ippacket_v4_discard, "FWPM_LAYER_OUTBOUND_IPPACKET_V4_DISCARD", v4, outbound, network, ippacket, outbound_ippacket_v4, true) \
  X(outbound_ippacket_v6_discard, "FWPM_LAYER_OUTBOUND_IPPACKET_V6_DISCARD", v6, outbound, network, ippacket, outbound_ippacket_v6, true) \
  X(ipforward_v4, "FWPM_LAYER_IPFORWARD_V4", v4, both, forward, ipforward, ipforward_v4_discard, false) \
  X(ipforward_v6, "FWPM_LAYER_IPFORWARD_V6", v6, both, forward, ipforward, ipforward_v6_discard, false) \
  X(ipforward_v4_discard, "FWPM_LAYER_IPFORWARD_V4_DISCARD", v4, both, forward, ipforward, ipforward_v4, true) \
  X(ipforward_v6_discard, "FWPM_LAYER_IPFORWARD_V6_DISCARD", v6, both, forward, ipforward, ipforward_v6, true) \
  X(inbound_transport_v4, "FWPM_LAYER_INBOUND_TRANSPORT_V4", v4, inbound, transport, inbound_transport, inbound_transport_v4_discard, false) \
  X(inbound_transport_v6, "FWPM_LAYER_INBOUND_TRANSPORT_V6", v6, inbound, transport, inbound_transport, inbound_transport_v6_discard, false) \
  X(inbound_transport_v4_discard, "FWPM_LAYER_INBOUND_TRANSPORT_V4_DISCARD", v4, inbound, transport, inbound_transport, inbound_transport_v4, true) \
  X(inbound_transport_v6_discard, "FWPM_LAYER_INBOUND_TRANSPORT_V6_DISCARD", v6, inbound, transport, inbound_transport, inbound_transport_v6, true) \
  X(outbound_transport_v4, "FWPM_LAYER_OUTBOUND_TRANSPORT_V4", v4, outbound, transport, outbound_transport, outbound_transport_v4_discard, false) \
  X(outbound_transport_v6, "FWPM_LAYER_OUTBOUND_TRANSPORT_V6", v6, outbound, transport, outbound_transport, outbound_transport_v6_discard, false) \
  X(outbound_transport_v4_discard, "FWPM_LAYER_OUTBOUND_TRANSPORT_V4_DISCARD", v4, outbound, transport, outbound_transport, outbound_transport_v4, true) \
  X(outbound_transport_v6_discard, "FWPM_LAYER_OUTBOUND_TRANSPORT_V6_DISCARD", v6, outbound, transport, outbound_transport, outbound_transport_v6, true) \
  X(stream_v4, "FWPM_LAYER_STREAM_V4", v4, both, stream, stream, stream_v4_discard, false) \
  X(stream_v6, "FWPM_LAYER_STREAM_V6", v6, both, stream, stream, stream_v6_discard, false) \
  X(stream_v4_discard, "FWPM_LAYER_STREAM_V4_DISCARD", v4, both, stream, stream, stream_v4, true) \
  X(stream_v6_discard, "FWPM_LAYER_STREAM_V6_DISCARD", v6, both, stream, stream, stream_v6, true) \
  X(datagram_data_v4, "FWPM_LAYER_DATAGRAM_DATA_V4", v4, both, datagram, datagram_data, datagram_data_v4_discard, false) \
  X(datagram_data_v6, "FWPM_LAYER_DATAGRAM_DATA_V6", v6, both, datagram, datagram_data, datagram_data_v6_discard, false) \
  X(datagram_data_v4_discard, "FWPM_LAYER_DATAGRAM_DATA_V4_DISCARD", v4, both, datagram, datagram_data, datagram_data_v4, true) \
  X(datagram_data_v6_discard, "FWPM_LAYER_DATAGRAM_DATA_V6_DISCARD", v6, both, datagram, datagram_data, datagram_data_v6, true) \
  X(inbound_icmp_error_v4, "FWPM_LAYER_INBOUND_ICMP_ERROR_V4", v4, inbound, icmp_error, inbound_icmp_error, inbound_icmp_error_v4_discard, false) \
  X(inbound_icmp_error_v6, "FWPM_LAYER_INBOUND_ICMP_ERROR_V6", v6, inbound, icmp_error, inbound_icmp_error, inbound_icmp_error_v6_discard, false) \
  X(inbound_icmp_error_v4_discard, "FWPM_LAYER_INBOUND_ICMP_ERROR_V4_DISCARD", v4, inbound, icmp_error, inbound_icmp_error, inbound_icmp_error_v4, true) \
  X(inbound_icmp_error_v6_discard, "FWPM_LAYER_INBOUND_ICMP_ERROR_V6_DISCARD", v6, inbound, icmp_error, inbound_icmp_error, inbound_icmp_error_v6, true) \
  X(outbound_icmp_error_v4, "FWPM_LAYER_OUTBOUND_ICMP_ERROR_V4", v4, outbound, icmp_error, outbound_icmp_error, outbound_icmp_error_v4_discard, false) \
  X(outbound_icmp_error_v6, "FWPM_LAYER_OUTBOUND_ICMP_ERROR_V6", v6, outbound, icmp_error, outbound_icmp_error, outbound_icmp_error_v6_discard, false) \
  X(outbound_icmp_error_v4_discard, "FWPM_LAYER_OUTBOUND_ICMP_ERROR_V4_DISCARD", v4, outbound, icmp_error, outbound_icmp_error, outbound_icmp_error_v4, true) \
  X(outbound_icmp_error_v6_discard, "FWPM_LAYER_OUTBOUND_ICMP_ERROR_V6_DISCARD", v6, outbound, icmp_error, outbound_icmp_error, outbound_icmp_error_v6, true) \
  X(ale_resource_assignment_v4, "FWPM_LAYER_ALE_RESOURCE_ASSIGNMENT_V4", v4, both, ale, ale_resource_assignment, ale_resource_assignment_v4_discard, false) \
  X(ale_resource_assignment_v6, "FWPM_LAYER_ALE_RESOURCE_ASSIGNMENT_V6", v6, both, ale, ale_resource_assignment, ale_resource_assignment_v6_discard, false) \
  X(ale_resource_assignment_v4_discard, "FWPM_LAYER_ALE_RESOURCE_ASSIGNMENT_V4_DISCARD", v4, both, ale, ale_resource_assignment, ale_resource_assignment_v4, true) \
  X(ale_resource_assignment_v6_discard, "FWPM_LAYER_ALE_RESOURCE_ASSIGNMENT_V6_DISCARD", v6, both, ale, ale_resource_assignment, ale_resource_assignment_v6, true) \
  X(ale_auth_listen_v4, "FWPM_LAYER_ALE_AUTH_LISTEN_V4", v4, inbound, ale, ale_auth_listen, ale_auth_listen_v4_discard, false) \
  X(ale_auth_listen_v6, "FWPM_LAYER_ALE_AUTH_LISTEN_V6", v6, inbound, ale, ale_auth_listen, ale_auth_listen_v6_discard, false) \
  X(ale_auth_listen_v4_discard, "FWPM_LAYER_ALE_AUTH_LISTEN_V4_DISCARD", v4, inbound, ale, ale_auth_listen, ale_auth_listen_v4, true) \
  X(ale_auth_listen_v6_discard, "FWPM_LAYER_ALE_AUTH_LISTEN_V6_DISCARD", v6, inbound, ale, ale_auth_listen, ale_auth_listen_v6, true) \
  X(ale_auth_recv_accept_v4, "FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V4", v4, inbound, ale, ale_auth_recv_accept, ale_auth_recv_accept_v4_discard, false) \
  X(ale_auth_recv_accept_v6, "FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V6", v6, inbound, ale, ale_auth_recv_accept, ale_auth_recv_accept_v6_discard, false) \
  X(ale_auth_recv_accept_v4_discard, "FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V4_DISCARD", v4, inbound, ale, ale_auth_recv_accept, ale_auth_recv_accept_v4, true) \
  X(ale_auth_recv_accept_v6_discard, "FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V6_DISCARD", v6, inbound, ale, ale_auth_recv_accept, ale_auth_recv_accept_v6, true) \
  X(ale_auth_connect_v4, "FWPM_LAYER_ALE_AUTH_CONNECT_V4", v4, outbound, ale, ale_auth_connect, ale_auth_connect_v4_discard, false) \
  X(ale_auth_connect_v6, "FWPM_LAYER_ALE_AUTH_CONNECT_V6", v6, outbound, ale, ale_auth_connect, ale_auth_connect_v6_discard, false) \
  X(ale_auth_connect_v4_discard, "FWPM_LAYER_ALE_AUTH_CONNECT_V4_DISCARD", v4, outbound, ale, ale_auth_connect, ale_auth_connect_v4, true) \
  X(ale_auth_connect_v6_discard, "FWPM_LAYER_ALE_AUTH_CONNECT_V6_DISCARD", v6, outbound, ale, ale_auth_connect, ale_auth_connect_v6, true) \
  X(ale_flow_established_v4, "FWPM_LAYER_ALE_FLOW_ESTABLISHED_V4", v4, both, ale, ale_flow_established, ale_flow_established_v4_discard, false) \
  X(ale_flow_established_v6, "FWPM_LAYER_ALE_FLOW_ESTABLISHED_V6", v6, both, ale, ale_flow_established, ale_flow_established_v6_discard, false) \
  X(ale_flow_established_v4_discard, "FWPM_LAYER_ALE_FLOW_ESTABLISHED_V4_DISCARD", v4, both, ale, ale_flow_established, ale_flow_established_v4, true) \
  X(ale_flow_established_v6_discard, "FWPM_LAYER_ALE_FLOW_ESTABLISHED_V6_DISCARD", v6, both, ale, ale_flow_established, ale_flow_established_v6, true) \
  X(inbound_mac_frame_ethernet, "FWPM_LAYER_INBOUND_MAC_FRAME_ETHERNET", none, inbound, mac, mac_ethernet, none, false) \
  X(outbound_mac_frame_ethernet, "FWPM_LAYER_OUTBOUND_MAC_FRAME_ETHERNET", none, outbound, mac, mac_ethernet, none, false) \
  X(inbound_mac_frame_native, "FWPM_LAYER_INBOUND_MAC_FRAME_NATIVE", none, inbound, mac, mac_native, none, false) \
  X(outbound_mac_frame_native, "FWPM_LAYER_OUTBOUND_MAC_FRAME_NATIVE", none, outbound, mac, mac_native, none, false) \
  X(ingress_vswitch_ethernet, "FWPM_LAYER_INGRESS_VSWITCH_ETHERNET", none, inbound, vswitch, vswitch_ethernet, none, false) \
  X(egress_vswitch_ethernet, "FWPM_LAYER_EGRESS_VSWITCH_ETHERNET", none, outbound, vswitch, vswitch_ethernet, none, false) \
  X(ingress_vswitch_transport_v4, "FWPM_LAYER_INGRESS_VSWITCH_TRANSPORT_V4", v4, inbound, vswitch, vswitch_transport, none, false) \
  X(ingress_vswitch_transport_v6, "FWPM_LAYER_INGRESS_VSWITCH_TRANSPORT_V6", v6, inbound, vswitch, vswitch_transport, none, false) \
  X(egress_vswitch_transport_v4, "FWPM_LAYER_EGRESS_VSWITCH_TRANSPORT_V4", v4, outbound, vswitch, vswitch_transport, none, false) \
  X(egress_vswitch_transport_v6, "FWPM_LAYER_EGRESS_VSWITCH_TRANSPORT_V6", v6, outbound, vswitch, vswitch_transport, none, false) \
  X(ipsec_km_demux_v4, "FWPM_LAYER_IPSEC_KM_DEMUX_V4", v4, outbound, user_mode, ipsec, none, false) \
  X(ipsec_km_demux_v6, "FWPM_LAYER_IPSEC_KM_DEMUX_V6", v6, outbound, user_mode, ipsec, none, false) \
  X(ipsec_v4, "FWPM_LAYER_IPSEC_V4", v4, both, user_mode, ipsec, none, false) \
  X(ipsec_v6, "FWPM_LAYER_IPSEC_V6", v6, both, user_mode, ipsec, none, false) \
  X(ikeext_v4, "FWPM_LAYER_IKEEXT_V4", v4, both, user_mode, ipsec, none, false) \
  X(ikeext_v6, "FWPM_LAYER_IKEEXT_V6", v6, both, user_mode, ipsec, none, false) \
  X(rpc_um, "FWPM_LAYER_RPC_UM", none, both, user_mode, rpc, none, false) \
  X(rpc_epmap, "FWPM_LAYER_RPC_EPMAP", none, both, user_mode, rpc, none, false) \
  X(rpc_ep_add, "FWPM_LAYER_RPC_EP_ADD", none, both, user_mode, rpc, none, false) \
  X(rpc_proxy_conn, "FWPM_LAYER_RPC_PROXY_CONN", none, both, user_mode, rpc, none, false) \
  X(rpc_proxy_if, "FWPM_LAYER_RPC_PROXY_IF", none, both, user_mode, rpc, none, false) \
  X(km_authorization, "FWPM_LAYER_KM_AUTHORIZATION", none, both, user_mode, km_authorization, none, false) \
  X(name_resolution_cache_v4, "FWPM_LAYER_NAME_RESOLUTION_CACHE_V4", v4, outbound, ale, name_resolution_cache, none, false) \
  X(name_resolution_cache_v6, "FWPM_LAYER_NAME_RESOLUTION_CACHE_V6", v6, outbound, ale, name_resolution_cache, none, false) \
  X(ale_resource_release_v4, "FWPM_LAYER_ALE_RESOURCE_RELEASE_V4", v4, both, ale, ale_resource_release, none, false) \
  X(ale_resource_release_v6, "FWPM_LAYER_ALE_RESOURCE_RELEASE_V6", v6, both, ale, ale_resource_release, none, false) \
  X(ale_endpoint_closure_v4, "FWPM_LAYER_ALE_ENDPOINT_CLOSURE_V4", v4, both, ale, ale_endpoint, none, false) \
  X(ale_endpoint_closure_v6, "FWPM_LAYER_ALE_ENDPOINT_CLOSURE_V6", v6, both, ale, ale_endpoint, none, false) \
  X(ale_connect_redirect_v4, "FWPM_LAYER_ALE_CONNECT_REDIRECT_V4", v4, outbound, ale, ale_connect_redirect, none, false) \
  X(ale_connect_redirect_v6, "FWPM_LAYER_ALE_CONNECT_REDIRECT_V6", v6, outbound, ale, ale_connect_redirect, none, false) \
  X(ale_bind_redirect_v4, "FWPM_LAYER_ALE_BIND_REDIRECT_V4", v4, both, ale, ale_bind_redirect, none, false) \
  X(ale_bind_redirect_v6, "FWPM_LAYER_ALE_BIND_REDIRECT_V6", v6, both, ale, ale_bind_redirect, none, false) \
  X(stream_packet_v4, "FWPM_LAYER_STREAM_PACKET_V4", v4, both, stream, stream_packet, none, false) \
  X(stream_packet_v6, "FWPM_LAYER_STREAM_PACKET_V6", v6, both, stream, stream_packet, none, false) \
  X(inbound_transport_fast, "FWPM_LAYER_INBOUND_TRANSPORT_FAST", none, inbound, transport, transport_fast, none, false) \
  X(outbound_transport_fast, "FWPM_LAYER_OUTBOUND_TRANSPORT_FAST", none, outbound, transport, transport_fast, none, false) \
  X(inbound_mac_frame_native_fast, "FWPM_LAYER_INBOUND_MAC_FRAME_NATIVE_FAST", none, inbound, mac, mac_native, none, false) \
  X(outbound_mac_frame_native_fast, "FWPM_LAYER_OUTBOUND_MAC_FRAME_NATIVE_FAST", none, outbound, mac, mac_native, none, false) \
  X(outbound_network_connection_policy_v4, "FWPM_LAYER_OUTBOUND_NETWORK_CONNECTION_POLICY_V4", v4, outbound, ale, network_connection_policy, none, false) \
  X(outbound_network_connection_policy_v6, "FWPM_LAYER_OUTBOUND_NETWORK_CONNECTION_POLICY_V6", v6, outbound, ale, network_connection_policy, none, false)
// clang-format on

enum class layer_id : std::uint8_t {
#define STRATA_X(id, wfp, fam, dir, kind, fields, twin, discard) id,
  STRATA_LAYERS(STRATA_X)
#undef STRATA_X
      none
};

inline constexpr std::size_t layer_count = static_cast<std::size_t>(layer_id::none);

namespace detail {
// Fields per group, from WFP's FWPS_FIELDS_* lists (see ../shared/reference/wfp-facts.md §3).
namespace field_groups {
using enum field_id;
inline constexpr field_set ippacket =
    fields_of(ip_local_address, ip_remote_address, ip_local_address_type, ip_local_interface, interface_index,
              sub_interface_index, flags, interface_type, tunnel_type, compartment_id);
inline constexpr field_set ipforward =
    fields_of(ip_source_address, ip_destination_address, ip_destination_address_type, ip_local_interface,
              ip_forward_interface, source_interface_index, destination_interface_index, flags,
              ip_arrival_interface, ip_nexthop_interface, compartment_id);
inline constexpr field_set inbound_transport =
    fields_of(ip_protocol, ip_local_address, ip_remote_address, ip_local_address_type, ip_local_port,
              ip_remote_port, ip_local_interface, interface_index, sub_interface_index, flags, interface_type,
              tunnel_type, current_profile_id, ipsec_security_realm_id, compartment_id);
inline constexpr field_set outbound_transport = inbound_transport | fields_of(ip_destination_address_type);
inline constexpr field_set transport_fast =
    fields_of(ip_protocol, ip_local_address, ip_remote_address, ip_local_port, ip_remote_port);
inline constexpr field_set stream =
    fields_of(ip_local_address, ip_local_address_type, ip_remote_address, ip_local_port, ip_remote_port,
              direction, flags, compartment_id);
inline constexpr field_set stream_packet = fields_of(
    ip_local_address, ip_remote_address, ip_local_port, ip_remote_port, ip_local_interface, interface_index,
    sub_interface_index, direction, flags, interface_type, tunnel_type, compartment_id);
inline constexpr field_set datagram_data =
    fields_of(ip_protocol, ip_local_address, ip_remote_address, ip_local_address_type, ip_local_port,
              ip_remote_port, ip_local_interface, interface_index, sub_interface_index, direction, flags,
              interface_type, tunnel_type, compartment_id);
// ICMP type and code travel in the local/remote port slots (FWPM_CONDITION_ICMP_TYPE/CODE).
inline constexpr field_set inbound_icmp_error =
    fields_of(embedded_protocol, ip_local_address, ip_remote_address, embedded_remote_address,
              embedded_local_address_type, embedded_local_port, embedded_remote_port, ip_local_interface,
              ip_local_port, ip_remote_port, interface_index, sub_interface_index, interface_type,
              tunnel_type, ip_arrival_interface, arrival_interface_index, flags, compartment_id);
inline constexpr field_set outbound_icmp_error = fields_of(
    ip_local_address, ip_remote_address, ip_local_address_type, ip_local_interface, ip_local_port,
    ip_remote_port, interface_index, sub_interface_index, interface_type, tunnel_type, flags, compartment_id);
inline constexpr field_set ale_resource_assignment =
    fields_of(ale_app_id, ale_user_id, ip_local_address, ip_local_address_type, ip_local_port, ip_protocol,
              ale_promiscuous_mode, ip_local_interface, flags, interface_type, tunnel_type,
              local_interface_profile_id, compartment_id);
inline constexpr field_set ale_auth_listen = fields_of(
    ale_app_id, ale_user_id, ip_local_address, ip_local_address_type, ip_local_port, ip_local_interface,
    flags, interface_type, tunnel_type, local_interface_profile_id, compartment_id);
inline constexpr field_set ale_auth_recv_accept = fields_of(
    ale_app_id, ale_user_id, ip_local_address, ip_local_address_type, ip_local_port, ip_protocol,
    ip_remote_address, ip_remote_port, ale_remote_user_id, ale_remote_machine_id, ip_local_interface, flags,
    sio_firewall_system_port, nap_context, interface_type, tunnel_type, interface_index, sub_interface_index,
    ip_arrival_interface, arrival_interface_index, ip_nexthop_interface, nexthop_interface_index,
    original_profile_id, current_profile_id, reauthorize_reason, original_icmp_type, compartment_id);
inline constexpr field_set ale_auth_connect =
    (ale_auth_recv_accept - fields_of(sio_firewall_system_port, nap_context)) |
    fields_of(ip_destination_address_type, peer_name, ale_original_app_id, ale_effective_name);
inline constexpr field_set ale_flow_established = fields_of(
    ale_app_id, ale_user_id, ip_local_address, ip_local_address_type, ip_local_port, ip_protocol,
    ip_remote_address, ip_remote_port, ale_remote_user_id, ale_remote_machine_id, ip_destination_address_type,
    ip_local_interface, direction, interface_type, tunnel_type, flags, ale_original_app_id, compartment_id);
inline constexpr field_set ale_connect_redirect =
    fields_of(ale_app_id, ale_user_id, ip_local_address, ip_local_address_type, ip_local_port, ip_protocol,
              ip_remote_address, ip_destination_address_type, ip_remote_port, flags, ale_original_app_id,
              compartment_id);
inline constexpr field_set ale_bind_redirect =
    fields_of(ale_app_id, ale_user_id, ip_local_address, ip_local_address_type, ip_local_port, ip_protocol,
              flags, compartment_id);
inline constexpr field_set ale_endpoint =
    fields_of(ale_app_id, ale_user_id, ip_local_address, ip_local_address_type, ip_local_port, ip_protocol,
              ip_remote_address, ip_remote_port, ip_local_interface, flags, compartment_id);
// FWPS_FIELDS_ALE_RESOURCE_RELEASE: the endpoint's local side only (a released port has no remote end).
inline constexpr field_set ale_resource_release = ale_endpoint - fields_of(ip_remote_address, ip_remote_port);
// FWPS_FIELDS_NAME_RESOLUTION_CACHE: user, app, remote address, peer name, compartment.
inline constexpr field_set name_resolution_cache =
    fields_of(ale_app_id, ale_user_id, ip_remote_address, peer_name, compartment_id);
inline constexpr field_set network_connection_policy =
    fields_of(ale_app_id, ale_user_id, ip_local_address, ip_local_address_type, ip_local_port, ip_protocol,
              ip_remote_address, ip_remote_port, ip_destination_address_type, flags, compartment_id);
inline constexpr field_set mac_ethernet =
    fields_of(interface_mac_address, mac_local_address, mac_remote_address, mac_local_address_type,
              mac_remote_address_type, ether_type, vlan_id, ip_local_interface, interface_index, ndis_port,
              l2_flags, compartment_id);
inline constexpr field_set mac_native =
    fields_of(ndis_media_type, ndis_physical_media_type, ip_local_interface, interface_type, interface_index,
              ndis_port, l2_flags);
inline constexpr field_set vswitch_ethernet =
    fields_of(mac_local_address, mac_remote_address, mac_local_address_type, mac_remote_address_type,
              ether_type, vlan_id, vswitch_id, l2_flags);
inline constexpr field_set vswitch_transport =
    fields_of(ip_local_address, ip_remote_address, ip_protocol, ip_local_port, ip_remote_port, vlan_id,
              vswitch_id, l2_flags);
inline constexpr field_set ipsec = fields_of(ip_local_address, ip_remote_address, ip_local_address_type,
                                             ip_destination_address_type, ip_local_interface);
inline constexpr field_set rpc = fields_of(ale_app_id, ale_user_id, ale_remote_user_id, ip_local_address,
                                           ip_remote_address, ip_local_port, ip_protocol);
inline constexpr field_set km_authorization =
    fields_of(ale_remote_user_id, ale_remote_machine_id, ip_local_address, ip_remote_address);
}  // namespace field_groups

struct layer_row {
  std::string_view name;        // strata's name ("inbound_ippacket_v4")
  std::string_view identifier;  // WFP's ("FWPM_LAYER_INBOUND_IPPACKET_V4")
  family fam;
  layer_direction dir;
  layer_kind kind;
  field_set fields;
  layer_id twin;  // discard twin of a base layer, base of a discard layer, or none
  bool is_discard;
};

inline constexpr field_set discard_fields = fields_of(field_id::discard_module, field_id::discard_reason);

inline constexpr std::array<layer_row, layer_count> layer_table{{
#define STRATA_X(id, wfp, fam, dir, kind, fields, twin, discard)                      \
  layer_row{#id,                                                                      \
            wfp,                                                                      \
            family::fam,                                                              \
            layer_direction::dir,                                                     \
            layer_kind::kind,                                                         \
            discard ? (field_groups::fields | discard_fields) : field_groups::fields, \
            layer_id::twin,                                                           \
            discard},
    STRATA_LAYERS(STRATA_X)
#undef STRATA_X
}};

constexpr const layer_row& row(layer_id l) { return layer_table[static_cast<std::size_t>(l)]; }
}  // namespace detail

// Traits as functions of the identifier, for code that holds a layer as a value.
constexpr std::string_view name(layer_id l) { return detail::row(l).name; }
/// WFP's identifier ("FWPM_LAYER_INBOUND_IPPACKET_V4").
constexpr std::string_view identifier(layer_id l) { return detail::row(l).identifier; }
/// The identifier without FWPM_LAYER_, as in traces ("INBOUND_IPPACKET_V4").
constexpr std::string_view short_identifier(layer_id l) { return identifier(l).substr(11); }
constexpr family layer_family(layer_id l) { return detail::row(l).fam; }
constexpr layer_direction direction_of(layer_id l) { return detail::row(l).dir; }
constexpr layer_kind kind(layer_id l) { return detail::row(l).kind; }
constexpr field_set offered_fields(layer_id l) { return detail::row(l).fields; }
constexpr bool offers(layer_id l, field_id f) { return offered_fields(l).contains(f); }
constexpr bool is_discard(layer_id l) { return detail::row(l).is_discard; }
/// The _DISCARD twin of a base layer, or none.
constexpr layer_id discard_twin(layer_id l) { return is_discard(l) ? layer_id::none : detail::row(l).twin; }
/// The base layer of a _DISCARD layer, or none.
constexpr layer_id base_of_discard(layer_id l) {
  return is_discard(l) ? detail::row(l).twin : layer_id::none;
}
/// The V6 layer of a V4 one (identity for layers without a family).
constexpr layer_id for_family(layer_id v4_layer, family f) {
  if (f != family::v6 || layer_family(v4_layer) != family::v4) return v4_layer;
  return static_cast<layer_id>(static_cast<std::uint8_t>(v4_layer) + 1);
}

/// A layer as a type: `strata::layer::inbound_ippacket_v4` is `layer_c<layer_id::inbound_ippacket_v4>`.
template <layer_id L>
struct layer_c {
  static constexpr layer_id id = L;
  static constexpr std::string_view name = strata::name(L);
  static constexpr std::string_view identifier = strata::identifier(L);
  static constexpr family address_family = layer_family(L);
  static constexpr layer_direction direction = direction_of(L);
  static constexpr layer_kind kind = strata::kind(L);
  static constexpr field_set fields = offered_fields(L);
  static constexpr bool is_discard = strata::is_discard(L);
  static constexpr layer_id discard_twin = strata::discard_twin(L);
  static constexpr layer_id base = base_of_discard(L);
  constexpr operator layer_id() const { return L; }
};

template <class T>
inline constexpr bool is_layer_v = false;
template <layer_id L>
inline constexpr bool is_layer_v<layer_c<L>> = true;
/// The Layer concept: one of the types in strata::layer.
template <class T>
concept Layer = is_layer_v<T>;

namespace layer {
#define STRATA_X(id, wfp, fam, dir, kind, fields, twin, discard) using id = layer_c<layer_id::id>;
STRATA_LAYERS(STRATA_X)
#undef STRATA_X
}  // namespace layer

/// Every layer, in catalogue order.
inline constexpr std::array<layer_id, layer_count> all_layers = [] {
  std::array<layer_id, layer_count> a{};
  for (std::size_t i = 0; i < layer_count; ++i) a[i] = static_cast<layer_id>(i);
  return a;
}();

// The catalogue's own invariants, checked where it is defined.
static_assert(discard_twin(layer_id::inbound_transport_v4) == layer_id::inbound_transport_v4_discard);
static_assert(base_of_discard(layer_id::inbound_transport_v6_discard) == layer_id::inbound_transport_v6);
static_assert(for_family(layer_id::ale_auth_recv_accept_v4, family::v6) == layer_id::ale_auth_recv_accept_v6);
static_assert(!offers(layer_id::inbound_ippacket_v4, field_id::ip_remote_port));
static_assert(offers(layer_id::inbound_transport_v4_discard, field_id::discard_reason));

}  // namespace strata
