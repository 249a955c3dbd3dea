// The smallest strata program: prints the library's version.
#include <cstdio>

#include <strata/version.hpp>

int main() {
  std::printf("strata %d.%d.%d\n", strata::version_major, strata::version_minor, strata::version_patch);
  return 0;
}
