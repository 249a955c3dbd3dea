// Exercises the compile-fail machinery itself (tests/compile_fail/run.cmake); replace it with real checks.
// expect: static.assert.*strata example
// expect: strata example
// max-lines: 60
#include <strata/version.hpp>

template <int Major>
constexpr bool supported_major() {
  return Major >= 0;
}

#ifdef STRATA_COMPILE_FAIL
static_assert(!supported_major<strata::version_major>(), "strata example");
#else
static_assert(supported_major<strata::version_major>(), "strata example");
#endif

int main() { return 0; }
