# Optional enforcing mode (include/strata/live/enforce.hpp): defines the INTERFACE target strata_enforce
# (alias strata::enforce) when strata::live exists and libnetfilter_queue is found, and sets
# STRATA_HAVE_ENFORCE. It links strata::live and libnetfilter_queue (its libmnl-based API; nf_tables is
# spoken over libmnl directly) and defines STRATA_HAVE_ENFORCE=1, which turns on strata-classify's
# --enforce. -DSTRATA_WITH_ENFORCE=OFF turns it off. Debian: libnetfilter-queue-dev.
include_guard(GLOBAL)

option(STRATA_WITH_ENFORCE "Build enforcing mode (strata::enforce, NFQUEUE) when libnetfilter_queue is found" ON)
set(STRATA_HAVE_ENFORCE OFF)

if(STRATA_WITH_ENFORCE AND TARGET strata::live)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(STRATA_NFQ_PC QUIET libnetfilter_queue)
  endif()
  find_library(STRATA_NFQ_LIBRARY NAMES netfilter_queue HINTS ${STRATA_NFQ_PC_LIBRARY_DIRS})
  find_path(STRATA_NFQ_INCLUDE_DIR NAMES libnetfilter_queue/libnetfilter_queue.h HINTS ${STRATA_NFQ_PC_INCLUDE_DIRS})
  mark_as_advanced(STRATA_NFQ_LIBRARY STRATA_NFQ_INCLUDE_DIR)
  if(STRATA_NFQ_LIBRARY AND STRATA_NFQ_INCLUDE_DIR)
    add_library(strata_enforce INTERFACE)
    add_library(strata::enforce ALIAS strata_enforce)
    target_include_directories(strata_enforce SYSTEM INTERFACE "${STRATA_NFQ_INCLUDE_DIR}")
    target_link_libraries(strata_enforce INTERFACE strata::live "${STRATA_NFQ_LIBRARY}")
    target_compile_definitions(strata_enforce INTERFACE STRATA_HAVE_ENFORCE=1)
    set(STRATA_HAVE_ENFORCE ON)
  else()
    message(STATUS "strata: libnetfilter_queue not found; strata::enforce is not defined (Debian: libnetfilter-queue-dev)")
  endif()
endif()
