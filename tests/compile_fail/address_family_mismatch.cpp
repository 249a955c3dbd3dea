// An IPv4 address at a _V6 layer. The diagnostic names the filter, the field and the layer.
// expect: address_family_does_not_match_layer
// expect-gcc: Filter = strata::detail::fixed_string<9>."lan-only".; Field = strata::field_c<strata::field_id::ip_remote_address>; Layer = strata::layer_c<strata::layer_id::ale_auth_recv_accept_v6>
// expect-clang: non-constexpr function 'address_family_does_not_match_layer<.*, strata::field_c<strata::field_id::ip_remote_address>, strata::layer_c<strata::layer_id::ale_auth_recv_accept_v6>>'
// max-lines-gcc: 30
// max-lines-clang: 40
#include <strata/policy.hpp>

using namespace strata;

#ifdef STRATA_COMPILE_FAIL
constexpr auto p =
    policy(filter<"lan-only", layer::ale_auth_recv_accept_v6>(action::permit, remote_address == "10.0.0.0/8"_v4));
#else
constexpr auto p =
    policy(filter<"lan-only", layer::ale_auth_recv_accept_v6>(action::permit, remote_address == "fd00::/8"_v6));
#endif

int main() { return p.filter_count == 1 ? 0 : 1; }
