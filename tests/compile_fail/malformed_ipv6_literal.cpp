// An IPv6 literal with two "::". The diagnostic names the literal ("1::2::3" is 49, 58, 58, 50, ... for clang).
// expect: malformed_ipv6_address_literal
// expect-gcc: Literal = strata::detail::fixed_string<8>."1::2::3".
// expect-clang: non-constexpr function 'malformed_ipv6_address_literal<..49, 58, 58, 50, 58, 58, 51, 0..>'
// max-lines-gcc: 30
// max-lines-clang: 40
#include <strata/policy.hpp>

using namespace strata;

#ifdef STRATA_COMPILE_FAIL
constexpr auto p = policy(filter<"bad6", layer::ale_auth_connect_v6>(action::block, remote_address == "1::2::3"_v6));
#else
constexpr auto p = policy(filter<"bad6", layer::ale_auth_connect_v6>(action::block, remote_address == "1::2:3"_v6));
#endif

int main() { return p.filter_count == 1 ? 0 : 1; }
