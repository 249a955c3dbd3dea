// strata — the Windows Filtering Platform's filter engine as C++ types.
// The version is stated here once; CMake parses it from this file.
#pragma once

#define STRATA_VERSION_MAJOR 0
#define STRATA_VERSION_MINOR 1
#define STRATA_VERSION_PATCH 0

#define STRATA_VERSION (STRATA_VERSION_MAJOR * 10000 + STRATA_VERSION_MINOR * 100 + STRATA_VERSION_PATCH)

namespace strata {
inline constexpr int version_major = STRATA_VERSION_MAJOR;
inline constexpr int version_minor = STRATA_VERSION_MINOR;
inline constexpr int version_patch = STRATA_VERSION_PATCH;
}  // namespace strata
