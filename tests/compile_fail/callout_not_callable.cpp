// A callout action whose callout cannot be called with the layer's values. The diagnostic names the filter and
// the offending type.
// expect: callout_is_not_callable_with_incoming_values
// expect-gcc: Filter = strata::detail::fixed_string<8>."inspect".; Callout = not_a_callout
// expect-clang: non-constexpr function 'callout_is_not_callable_with_incoming_values<.*, not_a_callout>'
// max-lines-gcc: 30
// max-lines-clang: 40
#include <strata/policy.hpp>

using namespace strata;

#ifdef STRATA_COMPILE_FAIL
struct not_a_callout {
  int x;
};
constexpr auto p = policy(filter<"inspect", layer::stream_v4>(callout_inspection(not_a_callout{1})));
#else
callout_answer inspect(const incoming_values&, bool) { return action::continue_; }
constexpr auto p = policy(filter<"inspect", layer::stream_v4>(callout_inspection(&inspect)));
#endif

int main() { return p.filter_count == 1 ? 0 : 1; }
