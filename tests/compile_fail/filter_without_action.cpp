// A filter with conditions but no action. The diagnostic names the filter.
// expect: filter_has_no_action
// expect-gcc: Filter = strata::detail::fixed_string<10>."undecided".
// expect-clang: non-constexpr function 'filter_has_no_action<..117, 110, 100, 101, 99
// max-lines-gcc: 30
// max-lines-clang: 40
#include <strata/policy.hpp>

using namespace strata;

#ifdef STRATA_COMPILE_FAIL
constexpr auto p = policy(filter<"undecided", layer::inbound_transport_v4>(local_port == 1));
#else
constexpr auto p = policy(filter<"undecided", layer::inbound_transport_v4>(action::block, local_port == 1));
#endif

int main() { return p.filter_count == 1 ? 0 : 1; }
