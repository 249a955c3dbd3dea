// An IPv4 literal with an octet above 255. The diagnostic names the literal ("10." is 49, 48, 46 for clang).
// expect: malformed_ipv4_address_literal
// expect-gcc: Literal = strata::detail::fixed_string<11>."10.0.0.300".
// expect-clang: non-constexpr function 'malformed_ipv4_address_literal<..49, 48, 46, 48, 46, 48, 46, 51, 48, 48
// max-lines-gcc: 30
// max-lines-clang: 40
#include <strata/policy.hpp>

using namespace strata;

#ifdef STRATA_COMPILE_FAIL
constexpr auto p = policy(filter<"bad", layer::ale_auth_connect_v4>(action::block, remote_address == "10.0.0.300"_v4));
#else
constexpr auto p = policy(filter<"bad", layer::ale_auth_connect_v4>(action::block, remote_address == "10.0.0.30"_v4));
#endif

int main() { return p.filter_count == 1 ? 0 : 1; }
