// One captured frame as every capture source (file or live) delivers it. No libpcap dependency:
// the engine and the views consume frames without knowing where they come from.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

namespace strata::io {

/// Capture timestamps: nanoseconds since the Unix epoch.
using timestamp = std::chrono::sys_time<std::chrono::nanoseconds>;

/// A captured frame. `data` is a view into the source's buffer: it stays valid until the source
/// advances (copy it to keep it longer).
struct frame {
  std::span<const std::byte> data{};  ///< the captured bytes (caplen of them)
  std::uint32_t wire_length = 0;      ///< the frame's length on the wire (>= data.size() when snapped)
  timestamp time{};                   ///< capture time, nanosecond resolution
  std::uint64_t index = 0;  ///< 1-based position in the capture (or since the start of a live session)
  // Live sources (strata/live/af_packet.hpp) also say where and how the frame was seen; files leave these at
  // 0/false.
  std::uint32_t ifindex = 0;  ///< interface index it was seen on (0 = unknown)
  bool outgoing =
      false;  ///< sent by the observed host (PACKET_OUTGOING), including forwarded packets leaving it
  bool departing_copy = false;  ///< a forwarded packet leaving, already seen arriving on another watched
                                ///< interface (traversal.md §6)

  /// Whether the capture kept only a prefix of the frame (snap length).
  constexpr bool snapped() const noexcept { return wire_length > data.size(); }
};

}  // namespace strata::io
