# Optional live capture (include/strata/live/): defines the INTERFACE target strata_live (alias strata::live)
# on Linux when libmnl (netlink) and libcap-ng (privilege drop) are found, and sets STRATA_HAVE_LIVE.
# It links strata::strata, the threads library, libmnl and libcap-ng, and defines STRATA_HAVE_LIVE=1, which
# turns on strata-classify's -i path (strata/cli.hpp). -DSTRATA_WITH_LIVE=OFF turns it off.
# Debian: libmnl-dev, libcap-ng-dev.
include_guard(GLOBAL)

option(STRATA_WITH_LIVE "Build live capture support (strata::live) when libmnl and libcap-ng are found" ON)
set(STRATA_HAVE_LIVE OFF)

if(STRATA_WITH_LIVE AND CMAKE_SYSTEM_NAME STREQUAL "Linux")
  find_package(Threads)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(STRATA_MNL_PC QUIET libmnl)
    pkg_check_modules(STRATA_CAPNG_PC QUIET libcap-ng)
  endif()
  find_library(STRATA_MNL_LIBRARY NAMES mnl HINTS ${STRATA_MNL_PC_LIBRARY_DIRS})
  find_path(STRATA_MNL_INCLUDE_DIR NAMES libmnl/libmnl.h HINTS ${STRATA_MNL_PC_INCLUDE_DIRS})
  find_library(STRATA_CAPNG_LIBRARY NAMES cap-ng HINTS ${STRATA_CAPNG_PC_LIBRARY_DIRS})
  find_path(STRATA_CAPNG_INCLUDE_DIR NAMES cap-ng.h HINTS ${STRATA_CAPNG_PC_INCLUDE_DIRS})
  mark_as_advanced(STRATA_MNL_LIBRARY STRATA_MNL_INCLUDE_DIR STRATA_CAPNG_LIBRARY STRATA_CAPNG_INCLUDE_DIR)
  if(STRATA_MNL_LIBRARY AND STRATA_MNL_INCLUDE_DIR AND STRATA_CAPNG_LIBRARY AND STRATA_CAPNG_INCLUDE_DIR
     AND TARGET Threads::Threads)
    add_library(strata_live INTERFACE)
    add_library(strata::live ALIAS strata_live)
    target_include_directories(strata_live SYSTEM INTERFACE "${STRATA_MNL_INCLUDE_DIR}" "${STRATA_CAPNG_INCLUDE_DIR}")
    target_link_libraries(strata_live INTERFACE strata::strata Threads::Threads "${STRATA_MNL_LIBRARY}"
                          "${STRATA_CAPNG_LIBRARY}")
    target_compile_definitions(strata_live INTERFACE STRATA_HAVE_LIVE=1)
    set(STRATA_HAVE_LIVE ON)
  else()
    message(STATUS "strata: libmnl or libcap-ng not found; strata::live is not defined (Debian: libmnl-dev libcap-ng-dev)")
  endif()
endif()
