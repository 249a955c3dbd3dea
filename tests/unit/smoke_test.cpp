// Smoke test: the test harness runs, and the version stated in <strata/version.hpp> is self-consistent.
#include <string>

#include <gtest/gtest.h>

#include <strata/version.hpp>

static_assert(STRATA_VERSION_MAJOR == strata::version_major);
static_assert(STRATA_VERSION_MINOR == strata::version_minor);
static_assert(STRATA_VERSION_PATCH == strata::version_patch);
static_assert(STRATA_VERSION ==
              strata::version_major * 10000 + strata::version_minor * 100 + strata::version_patch);

TEST(Smoke, VersionMacrosMatchConstants) {
  EXPECT_EQ(STRATA_VERSION_MAJOR, strata::version_major);
  EXPECT_EQ(STRATA_VERSION_MINOR, strata::version_minor);
  EXPECT_EQ(STRATA_VERSION_PATCH, strata::version_patch);
  EXPECT_GE(strata::version_major, 0);
  EXPECT_GE(strata::version_minor, 0);
  EXPECT_GE(strata::version_patch, 0);
}

TEST(Smoke, DataDirectoriesAreDefined) {
  EXPECT_NE(std::string(STRATA_SOURCE_DIR), std::string());
  EXPECT_NE(std::string(STRATA_SHARED_DIR), std::string());
}
