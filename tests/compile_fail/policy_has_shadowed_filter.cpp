// Strict mode (strata/analysis.hpp): a shadowed and an overridden filter are compile errors that name them.
// expect: filter_is_shadowed
// expect-gcc: Filter = .strata::detail::fixed_string<10>."web-again".
// expect-gcc: filter_is_overridden
// expect-gcc: Filter = .strata::detail::fixed_string<11>."app-permit".
// expect-clang: non-constexpr function 'filter_is_shadowed<..119, 101, 98, 45, 97, 103, 97, 105, 110, 0..>'
// expect-clang: non-constexpr function 'filter_is_overridden<..97, 112, 112, 45, 112, 101, 114, 109, 105, 116
// max-lines-gcc: 40
// max-lines-clang: 70
#include <strata/analysis.hpp>

using namespace strata;

inline constexpr sublayer admin{"admin", 0xc000};
inline constexpr sublayer apps{"apps", 0x1000};

#ifdef STRATA_COMPILE_FAIL
inline constexpr auto p = policy(
    filter<"web", layer::ale_auth_recv_accept_v4>(apps, weight(8), action::permit, local_port == 80 || local_port == 443),
    filter<"web-again", layer::ale_auth_recv_accept_v4>(apps, weight(4), action::block, local_port == 80),
    filter<"block-high", layer::ale_auth_recv_accept_v4>(admin, action::block, local_port >= 8000),
    filter<"app-permit", layer::ale_auth_recv_accept_v4>(apps, action::permit, local_port == 8080));
#else
inline constexpr auto p = policy(
    filter<"web", layer::ale_auth_recv_accept_v4>(apps, weight(8), action::permit, local_port == 80 || local_port == 443),
    filter<"web-again", layer::ale_auth_recv_accept_v4>(apps, weight(4), action::block, local_port == 81),
    filter<"block-high", layer::ale_auth_recv_accept_v4>(admin, action::block, local_port >= 8000),
    filter<"app-permit", layer::ale_auth_recv_accept_v4>(apps, action::permit, local_port == 7080));
#endif

static_assert(strict<p>);

int main() { return 0; }
