// A condition on a field its layer does not offer: INBOUND_IPPACKET has no ports (arbitration.md).
// The diagnostic names the filter, the field and the layer.
// expect: field_is_not_offered_at_layer
// expect-gcc: Filter = strata::detail::fixed_string<14>."no-ports-here".; Field = strata::field_c<strata::field_id::ip_remote_port>; Layer = strata::layer_c<strata::layer_id::inbound_ippacket_v4>
// expect-clang: non-constexpr function 'field_is_not_offered_at_layer<.*, strata::field_c<strata::field_id::ip_remote_port>, strata::layer_c<strata::layer_id::inbound_ippacket_v4>>'
// max-lines-gcc: 30
// max-lines-clang: 40
#include <strata/policy.hpp>

using namespace strata;

#ifdef STRATA_COMPILE_FAIL
constexpr auto p = policy(filter<"no-ports-here", layer::inbound_ippacket_v4>(action::block, remote_port == 22));
#else
constexpr auto p = policy(filter<"no-ports-here", layer::inbound_transport_v4>(action::block, remote_port == 22));
#endif

int main() { return p.filter_count == 1 ? 0 : 1; }
