// The observed host (traversal.md §1): the machine whose filter engine is modelled. Its local
// addresses decide every packet's direction; hints say who listens where (§3).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include <strata/address.hpp>

namespace strata {

/// A packet's direction relative to the observed host.
enum class traffic_direction : std::uint8_t {
  none,       ///< not an IP packet
  inbound,    ///< to the host (unicast to a local address, or multicast/broadcast from elsewhere)
  outbound,   ///< from the host
  forwarded,  ///< neither from nor to the host
  loopback,   ///< from the host to itself: classified outbound, then inbound
};

constexpr std::string_view name(traffic_direction d) {
  switch (d) {
    case traffic_direction::inbound:
      return "in";
    case traffic_direction::outbound:
      return "out";
    case traffic_direction::forwarded:
      return "fwd";
    case traffic_direction::loopback:
      return "loop";
    case traffic_direction::none:
      break;
  }
  return "null";
}

/// "Someone listens on tcp/22" or "nobody listens on udp/9999", given by the user.
struct port_hint {
  std::uint8_t protocol = 0;
  std::uint16_t port = 0;
  bool listening = true;
};

/// The observed host: local addresses (fixed capacity, no allocation) and listener hints.
class host {
 public:
  static constexpr std::size_t capacity = 64;

  /// Adds local addresses. "10.0.0.2" and "10.0.0.0/24" (every address in it is local) are
  /// addresses; "10.0.0.2/24" (host bits set, interface notation) adds 10.0.0.2 and remembers the
  /// subnet for its broadcast address. Returns false when the text does not parse or the host is full.
  constexpr bool add_local(std::string_view text) {
    auto exact = parse_prefix(text);
    if (exact) return add_local(*exact);
    auto masked = parse_prefix(text, family::none, keep_host_bits::mask);
    if (!masked) return false;
    auto addr = parse_address(text.substr(0, text.find('/')));
    if (!addr) return false;
    const std::uint8_t full = masked->fam == family::v4 ? 32 : 128;
    if (!add_local(prefix{*addr, full, masked->fam})) return false;
    if (subnet_count_ == capacity) return false;
    subnets_[subnet_count_++] = *masked;
    return true;
  }
  constexpr bool add_local(const prefix& p) {
    if (local_count_ == capacity) return false;
    local_masks_[local_count_] = p.mask();
    local_nets_[local_count_] = p.addr & local_masks_[local_count_];
    locals_[local_count_++] = p;
    if (p.fam == family::v4) {
      v4_masks_[v4_count_] = local_masks_[local_count_ - 1].v4();
      v4_nets_[v4_count_++] = local_nets_[local_count_ - 1].v4();
    }
    return true;
  }
  constexpr bool add_hint(port_hint h) {
    if (hint_count_ == capacity) return false;
    hints_[hint_count_++] = h;
    return true;
  }

  constexpr bool empty() const { return local_count_ == 0; }
  constexpr std::size_t local_count() const { return local_count_; }
  constexpr const prefix& local(std::size_t i) const { return locals_[i]; }

  constexpr bool is_local(address a, family f) const {
    for (std::size_t i = 0; i < local_count_; ++i)
      if (locals_[i].fam == f && (a & local_masks_[i]) == local_nets_[i]) return true;
    return false;
  }

  /// Multicast, limited broadcast, or the broadcast address of a local subnet.
  constexpr bool is_multicast_or_broadcast(address a, family f) const {
    if (f == family::v6) return (a.hi >> 56) == 0xff;
    const std::uint32_t v = a.v4();
    if ((v >> 28) == 0xe || v == 0xffffffffu) return true;
    for (std::size_t i = 0; i < subnet_count_; ++i) {
      const prefix& s = subnets_[i];
      if (s.fam == family::v4 && s.length < 31 && s.contains(a) && (v | s.mask().v4()) == 0xffffffffu)
        return true;
    }
    return false;
  }

  /// traversal.md §1.
  constexpr traffic_direction direction(address src, address dst, family f) const {
    bool src_local = false, dst_local = false;  // one walk over the locals for both addresses
    if (f == family::v4) {                      // most packets: 32-bit words, only the IPv4 locals
      for (std::size_t i = 0; i < v4_count_; ++i) {
        src_local = src_local || (src.v4() & v4_masks_[i]) == v4_nets_[i];
        dst_local = dst_local || (dst.v4() & v4_masks_[i]) == v4_nets_[i];
      }
    } else {
      for (std::size_t i = 0; i < local_count_; ++i) {
        if (locals_[i].fam != f) continue;
        src_local = src_local || (src & local_masks_[i]) == local_nets_[i];
        dst_local = dst_local || (dst & local_masks_[i]) == local_nets_[i];
      }
    }
    if (src_local && dst_local) return traffic_direction::loopback;
    if (src_local) return traffic_direction::outbound;
    if (dst_local) return traffic_direction::inbound;
    if (is_multicast_or_broadcast(dst, f)) return traffic_direction::inbound;
    return traffic_direction::forwarded;
  }

  /// The user's word on a port, if any: true = listening, false = closed.
  constexpr std::optional<bool> hint(std::uint8_t protocol, std::uint16_t port) const {
    for (std::size_t i = 0; i < hint_count_; ++i)
      if (hints_[i].protocol == protocol && hints_[i].port == port) return hints_[i].listening;
    return std::nullopt;
  }

 private:
  std::array<prefix, capacity> locals_{};
  // Each local's mask and masked address, computed once: direction() runs on every frame.
  std::array<address, capacity> local_masks_{};
  std::array<address, capacity> local_nets_{};
  // The IPv4 locals' masks and masked addresses again, as 32-bit words in an array of their own.
  std::array<std::uint32_t, capacity> v4_masks_{};
  std::array<std::uint32_t, capacity> v4_nets_{};
  std::size_t v4_count_ = 0;
  std::array<prefix, capacity> subnets_{};
  std::array<port_hint, capacity> hints_{};
  std::size_t local_count_ = 0;
  std::size_t subnet_count_ = 0;
  std::size_t hint_count_ = 0;
};

}  // namespace strata
