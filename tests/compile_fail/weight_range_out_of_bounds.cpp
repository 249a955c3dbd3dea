// A weight range outside 0-15 (WFP's FWPM_WEIGHT_RANGE_MAX is 15). The diagnostic names the filter.
// expect: weight_range_must_be_0_to_15
// expect-gcc: Filter = strata::detail::fixed_string<10>."too-heavy".
// expect-clang: non-constexpr function 'weight_range_must_be_0_to_15<..116, 111, 111, 45, 104
// max-lines-gcc: 30
// max-lines-clang: 40
#include <strata/policy.hpp>

using namespace strata;

#ifdef STRATA_COMPILE_FAIL
constexpr auto p = policy(filter<"too-heavy", layer::ale_auth_connect_v4>(weight(16), action::block));
#else
constexpr auto p = policy(filter<"too-heavy", layer::ale_auth_connect_v4>(weight(15), action::block));
#endif

int main() { return p.filter_count == 1 ? 0 : 1; }
