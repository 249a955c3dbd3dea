// An empty address literal. The diagnostic names the literal (g++ as text, clang as character codes: none).
// expect: malformed_ipv4_address_literal
// expect-gcc: Literal = strata::detail::fixed_string<1>."".
// expect-clang: non-constexpr function 'malformed_ipv4_address_literal<..0..>'
// max-lines-gcc: 30
// max-lines-clang: 40
#include <strata/policy.hpp>

using namespace strata;

#ifdef STRATA_COMPILE_FAIL
constexpr auto p = policy(filter<"empty", layer::ale_auth_connect_v4>(action::block, remote_address == ""_v4));
#else
constexpr auto p = policy(filter<"empty", layer::ale_auth_connect_v4>(action::block, remote_address == "0.0.0.0"_v4));
#endif

int main() { return p.filter_count == 1 ? 0 : 1; }
