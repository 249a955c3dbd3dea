// Purpose-built policies with one anomaly each (strata/analysis.hpp), and one without any. The unit tests
// check that analyze() finds exactly these; examples/analyze_policy.cpp prints their reports.
#pragma once

#include <strata/analysis.hpp>
#include <strata/policy.hpp>

namespace analysis_examples {
using namespace strata;

inline constexpr sublayer admin{"admin", 0xc000};
inline constexpr sublayer base{"base", 0x4000};
inline constexpr sublayer apps{"apps", 0x1000};

/// Shadowed: "web-again" can never decide: "web", higher in the same sublayer, matches all it matches.
inline constexpr auto shadowed = policy(
    filter<"web", layer::ale_auth_recv_accept_v4>(base, weight(8), action::permit, ip_protocol == proto::tcp,
                                                  local_port == 80 || local_port == 443),
    filter<"web-again", layer::ale_auth_recv_accept_v4>(base, weight(4), action::block,
                                                        ip_protocol == proto::tcp, local_port == 80));

/// Redundant: the soft permit for the LAN never changes a verdict: the base sublayer below decides every
/// packet (its web permit agrees, its catch-all block replaces the soft permit).
inline constexpr auto redundant =
    policy(filter<"lan-soft", layer::ale_auth_recv_accept_v4>(admin, action::permit,
                                                              remote_address == "10.0.0.0/8"_v4),
           filter<"web", layer::ale_auth_recv_accept_v4>(base, weight(8), action::permit,
                                                         ip_protocol == proto::tcp, local_port == 80),
           filter<"deny", layer::ale_auth_recv_accept_v4>(base, weight(0), action::block));

/// Overridden permit: the application's permit for 8080 can never stand: the admin sublayer's block of
/// ports 8000 and up is hard (a static block always is) and is evaluated first.
inline constexpr auto overridden_permit =
    policy(filter<"block-high", layer::ale_auth_recv_accept_v4>(admin, action::block, local_port >= 8000),
           filter<"app-permit", layer::ale_auth_recv_accept_v4>(
               apps, action::permit, ip_protocol == proto::tcp, local_port == 8080));

/// Overridden block: the base sublayer's block of SSH from the guest net never takes effect: the admin
/// sublayer's hard permit (clear_action_right) for SSH from 10.1.0.0/16 covers it.
inline constexpr auto overridden_block =
    policy(filter<"ssh-mgmt", layer::ale_auth_recv_accept_v4>(admin, action::permit, clear_action_right,
                                                              ip_protocol == proto::tcp, local_port == 22,
                                                              remote_address == "10.1.0.0/16"_v4),
           filter<"block-ssh-from-guests", layer::ale_auth_recv_accept_v4>(
               base, action::block, ip_protocol == proto::tcp, local_port == 22,
               remote_address == "10.1.5.0/24"_v4));

/// Generalisation (information): "deny-lan" blocks a superset of what "dns-server" permits before it.
inline constexpr auto generalisation =
    policy(filter<"dns-server", layer::ale_auth_connect_v4>(weight(9), action::permit,
                                                            remote_address == "10.0.0.53"_v4),
           filter<"deny-lan", layer::ale_auth_connect_v4>(weight(2), action::block,
                                                          remote_address == "10.0.0.0/8"_v4));

/// Correlation (information): a LAN permit and a block of high ports overlap; neither contains the other.
inline constexpr auto correlation = policy(
    filter<"allow-lan", layer::ale_auth_recv_accept_v4>(weight(8), action::permit,
                                                        remote_address == "10.0.0.0/8"_v4),
    filter<"block-high-ports", layer::ale_auth_recv_accept_v4>(weight(4), action::block, local_port >= 1024));

/// No anomaly: strict mode accepts it.
inline constexpr auto clean = policy(default_block,
                                     filter<"web", layer::ale_auth_recv_accept_v4>(
                                         base, action::permit, ip_protocol == proto::tcp, local_port == 80),
                                     filter<"ssh", layer::ale_auth_recv_accept_v4>(
                                         base, action::permit, ip_protocol == proto::tcp, local_port == 22));

}  // namespace analysis_examples
