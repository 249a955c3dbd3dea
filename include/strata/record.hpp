// The trace record of one captured frame (traversal.md §10): direction, flow, the layers visited
// with their decisions, the verdict, and the marks for duplicates, suppressed answers and malformed
// frames. Fixed size, no heap: the engine fills one per frame.
#pragma once

#include <cstdint>
#include <string_view>

#include <strata/host.hpp>
#include <strata/packet/error.hpp>
#include <strata/pipeline.hpp>

namespace strata {

/// The packet's addresses and ports as seen on the wire (source > destination).
struct flow_label {
  family fam = family::none;
  std::uint8_t protocol = 0;
  address src{};
  address dst{};
  std::uint16_t src_port = 0;  ///< ICMP: the type
  std::uint16_t dst_port = 0;  ///< ICMP: the code
  bool has_ports = false;      ///< TCP, UDP (ICMP prints type/code instead)
  bool is_icmp = false;
};

struct record {
  std::uint64_t frame = 0;
  traffic_direction dir = traffic_direction::none;
  flow_label flow{};
  trace steps;  ///< layers visited, in order (loopback: outbound then inbound)
  action verdict = action::permit;
  std::int16_t filter =
      -1;  ///< deciding filter in the policy that classified it, -1 for none (a suppressed
           ///< answer, a later fragment: in the policy that classified its trigger, its datagram)
  std::uint8_t policy = 0;         ///< index of the policy in force
  std::string_view filter_name{};  ///< its name (static storage), empty for none
  std::string_view sublayer_name{};
  bool hard = false;
  bool veto = false;
  bool dup = false;         ///< the departing copy of a forwarded packet already classified (§6)
  bool suppressed = false;  ///< a stack answer (RST, ICMP error) that a discard-layer block suppressed (§7)
  bool stack_discard = false;
  bool reassembled = false;  ///< this frame completed a reassembly
  std::string_view error{};  ///< malformed frames: why
  packet::parse_stage error_stage{};

  constexpr bool malformed() const { return !error.empty(); }
  constexpr bool blocked() const { return verdict == action::block; }
};

/// For range pipelines: `records | ranges::views::filter(strata::is_blocked)`.
inline constexpr auto is_blocked = [](const record& r) { return r.blocked(); };

}  // namespace strata
