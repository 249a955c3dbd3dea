// Two filters of one policy share a name. The diagnostic names the duplicated filter.
// expect: duplicate_filter_name
// expect-gcc: Filter = strata::detail::fixed_string<10>."allow-web".
// expect-clang: non-constexpr function 'duplicate_filter_name<..97, 108, 108, 111, 119, 45, 119, 101, 98, 0..>'
// max-lines-gcc: 30
// max-lines-clang: 40
#include <strata/policy.hpp>

using namespace strata;

#ifdef STRATA_COMPILE_FAIL
constexpr auto p = policy(filter<"allow-web", layer::ale_auth_recv_accept_v4>(action::permit, local_port == 80),
                          filter<"block-all", layer::ale_auth_recv_accept_v4>(action::block),
                          filter<"allow-web", layer::ale_auth_recv_accept_v4>(action::permit, local_port == 443));
#else
constexpr auto p = policy(filter<"allow-web", layer::ale_auth_recv_accept_v4>(action::permit, local_port == 80),
                          filter<"block-all", layer::ale_auth_recv_accept_v4>(action::block),
                          filter<"allow-tls", layer::ale_auth_recv_accept_v4>(action::permit, local_port == 443));
#endif

int main() { return p.filter_count == 3 ? 0 : 1; }
