// The policies compiled into strata-classify and the demo.
//   observe  no filters: the pure traversal of every packet
//   stealth  the seeds' port-scan prevention: a SYN or datagram to a closed port gets no answer
//   server   a realistic host: inbound accepted only on a few ports, outbound permitted
//   blocklist  run-time sets: traffic with the addresses in set "blocklist" and inbound connections to
//            the ports in set "blocked-ports" are blocked (strata-classify --set blocklist=FILE)
#pragma once

#include <strata/strata.hpp>

namespace policies {
using namespace strata;

inline constexpr auto observe = policy();

inline constexpr sublayer stealth_sublayer{"stealth", 0x4000};
// Blocking at the discard layers suppresses the stack's answer (the RST, the ICMP unreachable).
// INBOUND_IPPACKET_DISCARD offers no protocol: the discard reason says "nobody listens".
inline constexpr auto stealth =
    policy(filter<"stealth-tcp-v4", layer::inbound_transport_v4_discard>(stealth_sublayer, action::block,
                                                                         ip_protocol == proto::tcp),
           filter<"stealth-tcp-v6", layer::inbound_transport_v6_discard>(stealth_sublayer, action::block,
                                                                         ip_protocol == proto::tcp),
           filter<"stealth-udp-v4", layer::inbound_ippacket_v4_discard>(
               stealth_sublayer, action::block, discard_reason == discard_reason_code::port_unreachable),
           filter<"stealth-udp-v6", layer::inbound_ippacket_v6_discard>(
               stealth_sublayer, action::block, discard_reason == discard_reason_code::port_unreachable));

// Two sublayers show WFP's arbitration: every sublayer has its say, "admin" (higher weight) first.
// Its hard permit for SSH (clear_action_right) stands against the base sublayer's catch-all block;
// its soft permit for the LAN does not: a block below still overrides it.
inline constexpr sublayer admin{"admin", 0xc000};
inline constexpr sublayer base{"base", 0x4000};
inline constexpr auto server = policy(
    filter<"ssh-admin-v4", layer::ale_auth_recv_accept_v4>(
        admin, weight(15), action::permit, clear_action_right, ip_protocol == proto::tcp, local_port == 22),
    filter<"ssh-admin-v6", layer::ale_auth_recv_accept_v6>(
        admin, weight(15), action::permit, clear_action_right, ip_protocol == proto::tcp, local_port == 22),
    filter<"lan-soft-v4", layer::ale_auth_recv_accept_v4>(admin, action::permit,
                                                          remote_address == "10.0.0.0/8"_v4),
    filter<"web-v4", layer::ale_auth_recv_accept_v4>(
        base, weight(8), action::permit, ip_protocol == proto::tcp,
        local_port == 80 || local_port == 443 || local_port == 8080),
    filter<"web-v6", layer::ale_auth_recv_accept_v6>(
        base, weight(8), action::permit, ip_protocol == proto::tcp,
        local_port == 80 || local_port == 443 || local_port == 8080),
    filter<"dns-v4", layer::ale_auth_recv_accept_v4>(
        base, weight(8), action::permit, ip_protocol == proto::udp, local_port == 53 || local_port == 5353),
    filter<"dns-v6", layer::ale_auth_recv_accept_v6>(
        base, weight(8), action::permit, ip_protocol == proto::udp, local_port == 53 || local_port == 5353),
    filter<"icmp-v4", layer::ale_auth_recv_accept_v4>(base, weight(8), action::permit,
                                                      ip_protocol == proto::icmp),
    filter<"icmp-v6", layer::ale_auth_recv_accept_v6>(base, weight(8), action::permit,
                                                      ip_protocol == proto::icmpv6),
    filter<"default-deny-v4", layer::ale_auth_recv_accept_v4>(base, weight(0), action::block),
    filter<"default-deny-v6", layer::ale_auth_recv_accept_v6>(base, weight(0), action::block));

// Run-time sets (strata/sets.hpp): the contents come from files at run time (--set NAME=FILE; -i
// reloads them on SIGHUP), and a replacement reauthorizes the flows it affects. Unloaded, a set is
// empty and this policy permits everything.
inline constexpr sublayer blocklist_sublayer{"blocklist", 0x8000};
inline constexpr auto blocklist =
    policy(filter<"blocklist-in-v4", layer::ale_auth_recv_accept_v4>(
               blocklist_sublayer, action::block, remote_address.in(address_set<"blocklist">)),
           filter<"blocklist-in-v6", layer::ale_auth_recv_accept_v6>(
               blocklist_sublayer, action::block, remote_address.in(address_set<"blocklist">)),
           filter<"blocklist-out-v4", layer::ale_auth_connect_v4>(
               blocklist_sublayer, action::block, remote_address.in(address_set<"blocklist">)),
           filter<"blocklist-out-v6", layer::ale_auth_connect_v6>(
               blocklist_sublayer, action::block, remote_address.in(address_set<"blocklist">)),
           filter<"blocked-port-v4", layer::ale_auth_recv_accept_v4>(
               blocklist_sublayer, action::block, local_port.in(port_set<"blocked-ports">)),
           filter<"blocked-port-v6", layer::ale_auth_recv_accept_v6>(
               blocklist_sublayer, action::block, local_port.in(port_set<"blocked-ports">)));

}  // namespace policies
