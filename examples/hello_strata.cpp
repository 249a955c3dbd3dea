// The smallest strata program: prints the library's version.
#include <strata/version.hpp>

#include <cstdio>

int main() {
  std::printf("strata %d.%d.%d\n", strata::version_major, strata::version_minor, strata::version_patch);
  return 0;
}
