// A downstream program: uses only what an installed or embedded strata offers.
#include <strata/version.hpp>
#if __has_include(<strata/strata.hpp>)
#include <strata/strata.hpp>
#define STRATA_CONSUMER_UMBRELLA " (with <strata/strata.hpp>)"
#else
#define STRATA_CONSUMER_UMBRELLA ""
#endif

#include <cstdio>

static_assert(STRATA_VERSION_MAJOR == strata::version_major);

int main() {
  std::printf("strata %d.%d.%d%s\n", strata::version_major, strata::version_minor, strata::version_patch,
              STRATA_CONSUMER_UMBRELLA);
  return 0;
}
