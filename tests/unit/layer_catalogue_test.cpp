// The layer catalogue against the seed document's list of identifiers (tests/data/wfp-layer-identifiers.txt,
// copied from ../shared/seeds/filtering-layer-identifiers.md) and against the field rules of
// ../shared/spec/arbitration.md ("Building blocks") and ../shared/reference/wfp-facts.md §3.
//
// Every expectation below is derived from the identifier text or from those documents, never from the
// catalogue itself: the tests read the identifier, work out what it must be, and compare.
#include <algorithm>
#include <cstddef>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include <strata/strata.hpp>

namespace {

using strata::family;
using strata::field_id;
using strata::layer_direction;
using strata::layer_id;
using strata::layer_kind;

// --- compile-time traits of one layer type (issue 2, item 3) ----------------------------------------------
using ip4 = strata::layer::inbound_ippacket_v4;
static_assert(strata::Layer<ip4>);
static_assert(!strata::Layer<int>);
static_assert(!strata::Layer<layer_id>);
static_assert(std::is_same_v<ip4, strata::layer_c<layer_id::inbound_ippacket_v4>>);
static_assert(ip4::id == layer_id::inbound_ippacket_v4);
static_assert(ip4::identifier == "FWPM_LAYER_INBOUND_IPPACKET_V4");
static_assert(ip4::name == "inbound_ippacket_v4");
static_assert(ip4::address_family == family::v4);
static_assert(ip4::direction == layer_direction::inbound);
static_assert(ip4::kind == layer_kind::network);
static_assert(!ip4::is_discard);
static_assert(ip4::discard_twin == layer_id::inbound_ippacket_v4_discard);
static_assert(ip4::base == layer_id::none);
// arbitration.md: the IP-packet layers offer addresses, interface and flags, but no protocol and no ports.
static_assert(ip4::fields.contains(field_id::ip_local_address) &&
              ip4::fields.contains(field_id::ip_remote_address));
static_assert(ip4::fields.contains(field_id::flags) && ip4::fields.contains(field_id::interface_index));
static_assert(!ip4::fields.contains(field_id::ip_protocol));
static_assert(!ip4::fields.contains(field_id::ip_local_port) &&
              !ip4::fields.contains(field_id::ip_remote_port));
static_assert(layer_id{ip4{}} == layer_id::inbound_ippacket_v4);

using ip4_discard = strata::layer::inbound_ippacket_v4_discard;
static_assert(ip4_discard::is_discard);
static_assert(ip4_discard::base == layer_id::inbound_ippacket_v4);
static_assert(ip4_discard::discard_twin == layer_id::none);
static_assert(ip4_discard::fields.contains(field_id::discard_reason));
static_assert(!ip4::fields.contains(field_id::discard_reason));

using ipfwd6 = strata::layer::ipforward_v6;
static_assert(ipfwd6::address_family == family::v6 && ipfwd6::kind == layer_kind::forward);
static_assert(!ipfwd6::fields.contains(field_id::ip_protocol) &&
              !ipfwd6::fields.contains(field_id::ip_local_port));

static_assert(strata::offers(layer_id::inbound_transport_v4, field_id::ip_remote_port));
static_assert(strata::offers(layer_id::datagram_data_v6, field_id::ip_protocol));
static_assert(strata::offers(layer_id::ale_auth_recv_accept_v4, field_id::ip_remote_address));
static_assert(!strata::offers(layer_id::ale_auth_listen_v4, field_id::ip_remote_address));
static_assert(strata::offers(layer_id::inbound_icmp_error_v4, field_id::embedded_remote_port));
static_assert(strata::layer::ale_auth_connect_v6_discard::base == layer_id::ale_auth_connect_v6);
static_assert(strata::for_family(layer_id::stream_v4, family::v6) == layer_id::stream_v6);
static_assert(strata::short_identifier(layer_id::outbound_transport_v6_discard) ==
              "OUTBOUND_TRANSPORT_V6_DISCARD");
static_assert(strata::layer::inbound_mac_frame_ethernet::address_family == family::none);
static_assert(strata::layer::ingress_vswitch_ethernet::kind == layer_kind::vswitch);
static_assert(strata::layer::rpc_um::kind == layer_kind::user_mode);

// --- the identifier list ----------------------------------------------------------------------------------
std::vector<std::string> seed_identifiers() {
  const std::string path = std::string(STRATA_SOURCE_DIR) + "/tests/data/wfp-layer-identifiers.txt";
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::vector<std::string> ids;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    ids.push_back(line);
  }
  return ids;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }
std::string without_discard(std::string_view id) {
  return std::string(ends_with(id, "_DISCARD") ? id.substr(0, id.size() - 8) : id);
}

/// The catalogue's layers by identifier; a duplicate identifier is reported by the tests.
std::multimap<std::string, layer_id> catalogue() {
  std::multimap<std::string, layer_id> m;
  for (layer_id l : strata::all_layers) m.emplace(std::string(strata::identifier(l)), l);
  return m;
}
layer_id layer_named(const std::string& identifier) {
  const auto m = catalogue();
  const auto it = m.find(identifier);
  return it == m.end() ? layer_id::none : it->second;
}

TEST(LayerCatalogue, TheSeedListHas96DistinctIdentifiers) {
  const auto ids = seed_identifiers();
  // The seed has 39 "V4 / V6" pairs and 18 single identifiers: 39 * 2 + 18 = 96.
  EXPECT_EQ(ids.size(), 96u);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size());
  for (const auto& id : ids) EXPECT_TRUE(starts_with(id, "FWPM_LAYER_")) << id;
  // The groups the issue names explicitly are all there.
  for (const char* must :
       {"FWPM_LAYER_INBOUND_IPPACKET_V4_DISCARD", "FWPM_LAYER_INBOUND_MAC_FRAME_NATIVE",
        "FWPM_LAYER_EGRESS_VSWITCH_TRANSPORT_V6", "FWPM_LAYER_RPC_PROXY_IF", "FWPM_LAYER_IKEEXT_V4",
        "FWPM_LAYER_KM_AUTHORIZATION", "FWPM_LAYER_NAME_RESOLUTION_CACHE_V6",
        "FWPM_LAYER_ALE_RESOURCE_RELEASE_V4", "FWPM_LAYER_ALE_ENDPOINT_CLOSURE_V6",
        "FWPM_LAYER_STREAM_PACKET_V4", "FWPM_LAYER_OUTBOUND_MAC_FRAME_NATIVE_FAST",
        "FWPM_LAYER_INBOUND_TRANSPORT_FAST", "FWPM_LAYER_OUTBOUND_NETWORK_CONNECTION_POLICY_V6"})
    EXPECT_NE(std::find(ids.begin(), ids.end(), must), ids.end()) << must;
}

TEST(LayerCatalogue, EveryIdentifierHasExactlyOneLayer) {
  const auto m = catalogue();
  for (const auto& id : seed_identifiers()) EXPECT_EQ(m.count(id), 1u) << id;
}

TEST(LayerCatalogue, EveryLayerIsInTheSeedList) {
  const auto ids = seed_identifiers();
  const std::set<std::string> known(ids.begin(), ids.end());
  EXPECT_EQ(strata::all_layers.size(), ids.size());
  EXPECT_EQ(strata::layer_count, ids.size());
  std::set<layer_id> seen;
  for (layer_id l : strata::all_layers) {
    EXPECT_TRUE(known.count(std::string(strata::identifier(l))))
        << strata::identifier(l) << " is not in the seed";
    EXPECT_TRUE(seen.insert(l).second) << "all_layers lists " << strata::name(l) << " twice";
  }
}

TEST(LayerCatalogue, NamesAreTheIdentifierInLowerCaseWithoutThePrefix) {
  for (layer_id l : strata::all_layers) {
    const std::string id(strata::identifier(l));
    std::string expected = id.substr(std::string_view("FWPM_LAYER_").size());
    EXPECT_EQ(strata::short_identifier(l), expected);
    std::transform(expected.begin(), expected.end(), expected.begin(),
                   [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); });
    EXPECT_EQ(strata::name(l), expected) << id;
  }
}

TEST(LayerCatalogue, FamilyFollowsTheV4V6Suffix) {
  for (const auto& id : seed_identifiers()) {
    const layer_id l = layer_named(id);
    ASSERT_NE(l, layer_id::none) << id;
    const std::string base = without_discard(id);
    const family expected = ends_with(base, "_V4")   ? family::v4
                            : ends_with(base, "_V6") ? family::v6
                                                     : family::none;
    EXPECT_EQ(strata::layer_family(l), expected) << id;
  }
}

TEST(LayerCatalogue, DirectionFollowsTheInboundOutboundPrefix) {
  for (const auto& id : seed_identifiers()) {
    const layer_id l = layer_named(id);
    const std::string_view s = std::string_view(id).substr(11);
    if (starts_with(s, "INBOUND_") || starts_with(s, "INGRESS_")) {
      EXPECT_EQ(strata::direction_of(l), layer_direction::inbound) << id;
    } else if (starts_with(s, "OUTBOUND_") || starts_with(s, "EGRESS_")) {
      EXPECT_EQ(strata::direction_of(l), layer_direction::outbound) << id;
    }
  }
  // Seed: RECV_ACCEPT authorizes incoming connections and traffic, CONNECT outgoing ones; LISTEN authorizes
  // listen requests (incoming connections to come). STREAM and DATAGRAM_DATA see both directions.
  EXPECT_EQ(strata::direction_of(layer_id::ale_auth_recv_accept_v4), layer_direction::inbound);
  EXPECT_EQ(strata::direction_of(layer_id::ale_auth_connect_v6), layer_direction::outbound);
  EXPECT_EQ(strata::direction_of(layer_id::stream_v4), layer_direction::both);
  EXPECT_EQ(strata::direction_of(layer_id::datagram_data_v6), layer_direction::both);
}

TEST(LayerCatalogue, KindFollowsTheIdentifier) {
  const auto expected_kind = [](std::string_view s) -> std::optional<layer_kind> {
    const auto has = [&](std::string_view part) { return s.find(part) != std::string_view::npos; };
    if (has("IPPACKET")) return layer_kind::network;
    if (has("IPFORWARD")) return layer_kind::forward;
    if (has("VSWITCH")) return layer_kind::vswitch;
    if (has("MAC_FRAME")) return layer_kind::mac;
    if (has("ICMP_ERROR")) return layer_kind::icmp_error;
    if (has("DATAGRAM_DATA")) return layer_kind::datagram;
    if (starts_with(s, "STREAM")) return layer_kind::stream;
    if (starts_with(s, "INBOUND_TRANSPORT") || starts_with(s, "OUTBOUND_TRANSPORT"))
      return layer_kind::transport;
    if (starts_with(s, "ALE_")) return layer_kind::ale;
    // Seed: "This is a user-mode filtering layer."
    if (starts_with(s, "IPSEC") || starts_with(s, "IKEEXT") || starts_with(s, "RPC_"))
      return layer_kind::user_mode;
    return std::nullopt;  // KM_AUTHORIZATION, NAME_RESOLUTION_CACHE, NETWORK_CONNECTION_POLICY: no rule here
  };
  int checked = 0;
  for (const auto& id : seed_identifiers()) {
    const auto k = expected_kind(std::string_view(id).substr(11));
    if (!k) continue;
    EXPECT_EQ(strata::kind(layer_named(id)), *k) << id;
    ++checked;
  }
  EXPECT_GE(checked, 90);
}

TEST(LayerCatalogue, DiscardLayersAndTheirBasesMapBothWays) {
  const auto ids = seed_identifiers();
  const std::set<std::string> known(ids.begin(), ids.end());
  int discards = 0;
  for (const auto& id : ids) {
    const layer_id l = layer_named(id);
    if (ends_with(id, "_DISCARD")) {
      ++discards;
      const layer_id base = layer_named(without_discard(id));
      ASSERT_NE(base, layer_id::none) << id << " has no base layer in the seed";
      EXPECT_TRUE(strata::is_discard(l)) << id;
      EXPECT_EQ(strata::base_of_discard(l), base) << id;
      EXPECT_EQ(strata::discard_twin(base), l) << id;
      EXPECT_EQ(strata::discard_twin(l), layer_id::none) << id;  // a discard layer has no discard layer
      EXPECT_EQ(strata::layer_family(l), strata::layer_family(base)) << id;
      EXPECT_EQ(strata::kind(l), strata::kind(base)) << id;
    } else {
      EXPECT_FALSE(strata::is_discard(l)) << id;
      EXPECT_EQ(strata::base_of_discard(l), layer_id::none) << id;
      const bool has_twin = known.count(id + "_DISCARD") > 0;
      EXPECT_EQ(strata::discard_twin(l), has_twin ? layer_named(id + "_DISCARD") : layer_id::none) << id;
    }
  }
  // Seed: IPPACKET in/out, IPFORWARD, TRANSPORT in/out, STREAM, DATAGRAM_DATA, ICMP_ERROR in/out,
  // RESOURCE_ASSIGNMENT, AUTH_LISTEN, AUTH_RECV_ACCEPT, AUTH_CONNECT, FLOW_ESTABLISHED: 14 V4/V6 pairs.
  EXPECT_EQ(discards, 28);
}

TEST(LayerCatalogue, ForFamilyMapsEveryV4LayerToItsV6Twin) {
  const auto ids = seed_identifiers();
  const std::set<std::string> known(ids.begin(), ids.end());
  int pairs = 0;
  for (const auto& id : ids) {
    const layer_id l = layer_named(id);
    const std::size_t at = id.rfind("_V4");
    if (at == std::string::npos || strata::layer_family(l) != family::v4) {
      // Layers without a family stay what they are.
      if (strata::layer_family(l) == family::none) {
        EXPECT_EQ(strata::for_family(l, family::v6), l) << id;
        EXPECT_EQ(strata::for_family(l, family::v4), l) << id;
      }
      continue;
    }
    std::string v6 = id;
    v6.replace(at, 3, "_V6");
    ASSERT_TRUE(known.count(v6)) << id << " has no V6 twin in the seed";
    EXPECT_EQ(strata::for_family(l, family::v6), layer_named(v6)) << id;
    EXPECT_EQ(strata::for_family(l, family::v4), l) << id;
    ++pairs;
  }
  // The seed's 39 "V4 / V6" lines, and OUTBOUND_NETWORK_CONNECTION_POLICY_V4 and _V6 on lines of their own.
  EXPECT_EQ(pairs, 40);
}

// --- fields per layer: arbitration.md "Building blocks", wfp-facts.md §3 -----------------------------------
bool offers_all(layer_id l, std::initializer_list<field_id> fs) {
  return std::all_of(fs.begin(), fs.end(), [&](field_id f) { return strata::offers(l, f); });
}
bool offers_none(layer_id l, std::initializer_list<field_id> fs) {
  return std::none_of(fs.begin(), fs.end(), [&](field_id f) { return strata::offers(l, f); });
}

TEST(LayerFields, IpPacketAndForwardLayersOfferAddressesInterfaceAndFlagsButNoProtocolOrPorts) {
  using enum field_id;
  int checked = 0;
  for (layer_id l : strata::all_layers) {
    const auto k = strata::kind(l);
    if (k != layer_kind::network && k != layer_kind::forward) continue;
    ++checked;
    EXPECT_TRUE(offers_none(l, {ip_protocol, ip_local_port, ip_remote_port})) << strata::name(l);
    EXPECT_TRUE(strata::offers(l, flags)) << strata::name(l);
    EXPECT_TRUE(strata::offers(l, ip_local_interface)) << strata::name(l);
    if (k == layer_kind::network) {
      EXPECT_TRUE(offers_all(l, {ip_local_address, ip_remote_address, interface_index})) << strata::name(l);
    } else {  // wfp-facts §3: IPFORWARD names its addresses source and destination
      EXPECT_TRUE(offers_all(l, {ip_source_address, ip_destination_address, source_interface_index,
                                 destination_interface_index}))
          << strata::name(l);
    }
  }
  EXPECT_EQ(checked, 12);  // IPPACKET in/out and IPFORWARD, V4/V6, with their discard twins
}

TEST(LayerFields, TransportDatagramAndAleLayersOfferTheFiveTuple) {
  using enum field_id;
  // wfp-facts §3 and the DDI's FWPS_FIELDS_* lists: these ALE layers have no remote end.
  const std::set<std::string_view> no_remote = {"ALE_RESOURCE_ASSIGNMENT", "ALE_AUTH_LISTEN",
                                                "ALE_BIND_REDIRECT", "ALE_RESOURCE_RELEASE"};
  int five_tuple = 0;
  for (layer_id l : strata::all_layers) {
    const auto k = strata::kind(l);
    if (k != layer_kind::transport && k != layer_kind::datagram && k != layer_kind::ale) continue;
    std::string base = without_discard(strata::short_identifier(l));
    if (const auto at = base.rfind("_V"); at != std::string::npos && at + 3 == base.size()) base.resize(at);
    if (base == "NAME_RESOLUTION_CACHE") {
      // FWPS_FIELDS_NAME_RESOLUTION_CACHE: user, app, remote address, peer name, compartment. No ports.
      EXPECT_TRUE(offers_all(l, {ale_user_id, ale_app_id, ip_remote_address, peer_name, compartment_id}))
          << strata::name(l);
      EXPECT_TRUE(offers_none(l, {ip_local_port, ip_remote_port, ip_protocol})) << strata::name(l);
      continue;
    }
    if (no_remote.count(base)) {
      EXPECT_TRUE(offers_none(l, {ip_remote_address, ip_remote_port})) << strata::name(l);
      EXPECT_TRUE(offers_all(l, {ip_local_address, ip_local_port})) << strata::name(l);
      // ALE_AUTH_LISTEN has no IP_PROTOCOL (listen is TCP only); the others have it.
      EXPECT_EQ(strata::offers(l, ip_protocol), base != "ALE_AUTH_LISTEN") << strata::name(l);
      continue;
    }
    ++five_tuple;
    EXPECT_TRUE(
        offers_all(l, {ip_protocol, ip_local_address, ip_remote_address, ip_local_port, ip_remote_port}))
        << strata::name(l);
  }
  // INBOUND/OUTBOUND_TRANSPORT (8 with discards) + the 2 FAST ones, DATAGRAM_DATA (4), AUTH_RECV_ACCEPT (4),
  // AUTH_CONNECT (4), FLOW_ESTABLISHED (4), ENDPOINT_CLOSURE (2), CONNECT_REDIRECT (2),
  // NETWORK_CONNECTION_POLICY (2).
  EXPECT_EQ(five_tuple, 32);
}

TEST(LayerFields, AleLayersOfferApplicationAndUser) {
  for (layer_id l : strata::all_layers) {
    if (strata::kind(l) != layer_kind::ale) continue;
    EXPECT_TRUE(offers_all(l, {field_id::ale_app_id, field_id::ale_user_id})) << strata::name(l);
  }
}

TEST(LayerFields, IcmpErrorLayersOfferTypeCodeAndTheEmbeddedTuple) {
  using enum field_id;
  int checked = 0;
  for (layer_id l : strata::all_layers) {
    if (strata::kind(l) != layer_kind::icmp_error) continue;
    ++checked;
    // arbitration.md: the type sits in the local-port field and the code in the remote-port field.
    EXPECT_TRUE(offers_all(l, {ip_local_port, ip_remote_port, ip_local_address, ip_remote_address}))
        << strata::name(l);
    EXPECT_FALSE(strata::offers(l, ip_protocol)) << strata::name(l);
    // The embedded (original) tuple: FWPS_FIELDS_INBOUND_ICMP_ERROR has it; FWPS_FIELDS_OUTBOUND_ICMP_ERROR
    // (wfp-facts §3, the DDI's field list) does not, so only the inbound layers offer it.
    const bool inbound = strata::direction_of(l) == layer_direction::inbound;
    if (inbound) {
      EXPECT_TRUE(offers_all(l, {embedded_protocol, embedded_remote_address, embedded_local_port,
                                 embedded_remote_port, embedded_local_address_type}))
          << strata::name(l);
    } else {
      EXPECT_TRUE(offers_none(
          l, {embedded_protocol, embedded_remote_address, embedded_local_port, embedded_remote_port}))
          << strata::name(l);
    }
  }
  EXPECT_EQ(checked, 8);
  // The icmp_type / icmp_code field objects are the port slots.
  static_assert(decltype(strata::icmp_type)::id == field_id::ip_local_port);
  static_assert(decltype(strata::icmp_code)::id == field_id::ip_remote_port);
}

TEST(LayerFields, DiscardLayersOfferTheirBaseFieldsPlusTheDiscardReason) {
  using enum field_id;
  const strata::field_set discard_info = strata::fields_of(discard_module, discard_reason);
  int checked = 0;
  for (layer_id l : strata::all_layers) {
    if (!strata::is_discard(l)) {
      EXPECT_FALSE(strata::offers(l, discard_reason)) << strata::name(l);
      continue;
    }
    ++checked;
    const layer_id base = strata::base_of_discard(l);
    const strata::field_set d = strata::offered_fields(l), b = strata::offered_fields(base);
    EXPECT_TRUE(d.contains(discard_reason)) << strata::name(l);
    EXPECT_EQ(b - d, strata::field_set{}) << strata::name(l) << " lacks some of its base layer's fields";
    EXPECT_EQ((d - b) - discard_info, strata::field_set{})
        << strata::name(l) << " offers more than base + discard";
  }
  EXPECT_EQ(checked, 28);
}

TEST(LayerFields, StreamLayersOfferAddressesAndPortsButNoProtocol) {
  // wfp-facts §3: STREAM (TCP only): LA LAT RA LP RP DIRECTION FL; STREAM_PACKET alike with interfaces.
  using enum field_id;
  for (layer_id l : strata::all_layers) {
    if (strata::kind(l) != layer_kind::stream) continue;
    EXPECT_TRUE(
        offers_all(l, {ip_local_address, ip_remote_address, ip_local_port, ip_remote_port, direction, flags}))
        << strata::name(l);
    EXPECT_FALSE(strata::offers(l, ip_protocol)) << strata::name(l);
  }
}

}  // namespace
