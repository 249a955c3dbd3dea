// The engine keeps one incoming_values for the packets it classifies and overwrites only the fields a
// packet gives (engine.hpp, values_of): a field one packet sets (an ICMP error's quoted packet, ports)
// must not be seen by the next packet that does not. Each frame below, of a flow of its own, must get
// the record it gets from a fresh engine.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <strata/engine.hpp>

#include "unit/hostile_frames.hpp"

namespace {

using namespace hostile;
using namespace strata;

constexpr sublayer sl{"values", 0x4100};
constexpr auto reads_values =
    policy(filter<"quoted-udp", layer::inbound_icmp_error_v4>(sl, action::block, embedded_protocol == 17),
           filter<"quoted-port", layer::inbound_icmp_error_v4>(sl, action::block, embedded_remote_port == 53),
           filter<"port-zero", layer::inbound_transport_v4>(sl, action::block, local_port == 0),
           filter<"code-zero", layer::outbound_transport_v4>(sl, action::block, remote_port == 0));
using values_engine = engine<reads_values>;

constexpr std::uint32_t local = hostile::v4(10, 0, 0, 2), remote = hostile::v4(10, 0, 0, 1);

/// An ICMP destination unreachable (port) from the remote, quoting `quoted` (an IPv4 packet, no link).
bytes port_unreachable(const bytes& quoted) {
  bytes icmp = {3, 3, 0, 0, 0, 0, 0, 0};
  append(icmp, quoted);
  return ipv4(remote, local, 1, icmp);
}

std::vector<bytes> frames() {
  bytes quoted = ipv4(local, remote, 17, udp(5000, 53, 4));
  quoted.erase(quoted.begin(), quoted.begin() + 14);  // the quoted packet has no link header
  return {
      port_unreachable(quoted),                          // quoted UDP to port 53: blocked
      port_unreachable(bytes(28, 0)),                    // quotes no IPv4 packet: no embedded fields
      port_unreachable(quoted),                          // quoted again
      ipv4(remote, local, 1, {8, 0, 0, 0, 0, 7, 0, 1}),  // echo request: type 8 / code 0 in the ports
      ipv4(remote, local, 17, udp(4444, 0)),             // UDP to local port 0
      ipv4(remote, local, 17, udp(4445, 9)),             // UDP to port 9
      ipv4(remote, local, 47, {0, 0, 0, 0}),             // GRE: no ports, so local port 0
      ipv4(local, remote, 17, udp(6000, 7)),             // outbound UDP, remote port 7
      ipv4(local, remote, 1, {8, 0, 0, 0, 0, 9, 0, 1}),  // outbound echo: code 0 in the remote port
      ipv4(local, remote, 17, udp(6001, 8)),             // outbound UDP after it
      port_unreachable(bytes(28, 0)),
  };
}

host values_host() {
  host h;
  EXPECT_TRUE(h.add_local("10.0.0.2"));
  return h;
}

std::vector<std::string> layers(const record& r) {
  std::vector<std::string> out;
  for (const step_record& s : r.steps) out.emplace_back(short_identifier(s.layer));
  return out;
}

}  // namespace

TEST(EngineValues, EachFrameSeesOnlyItsOwnValues) {
  const std::vector<bytes> all = frames();
  values_engine shared{values_host()};
  std::size_t blocked = 0;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const io::frame f = frame_of(all[i], 1'000'000'000 + static_cast<std::int64_t>(i) * 1000, i + 1);
    const record got = shared.classify(f);
    values_engine fresh{values_host()};
    const record want = fresh.classify(f);
    SCOPED_TRACE("frame " + std::to_string(i + 1));
    EXPECT_EQ(got.verdict, want.verdict);
    EXPECT_EQ(got.filter_name, want.filter_name);
    EXPECT_EQ(layers(got), layers(want));
    blocked += got.blocked();
  }
  EXPECT_EQ(blocked, 5u);  // both quotes, UDP to port 0, GRE, the outbound echo (code 0)
}
