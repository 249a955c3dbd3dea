// ORing conditions on different fields: WFP ORs only consecutive conditions on the same field
// (arbitration.md). The diagnostic says so and names both fields.
// expect: WFP ORs only conditions on the same field
// expect-gcc: G = strata::field_id::ip_remote_port.*F = strata::field_id::ip_local_port
// expect-clang: condition<strata::field_id::ip_local_port, 1>::operator..<strata::field_id::ip_remote_port
// max-lines-gcc: 30
// max-lines-clang: 40
#include <strata/policy.hpp>

using namespace strata;

#ifdef STRATA_COMPILE_FAIL
constexpr auto p =
    policy(filter<"mixed-or", layer::inbound_transport_v4>(action::block, local_port == 1 || remote_port == 2));
#else
constexpr auto p =
    policy(filter<"mixed-or", layer::inbound_transport_v4>(action::block, local_port == 1 || local_port == 2));
#endif

int main() { return p.filter_count == 1 ? 0 : 1; }
