# Optional libpcap support: defines the INTERFACE target strata_pcap (alias strata::pcap) when libpcap is
# found, and sets STRATA_HAVE_PCAP to ON or OFF. Targets that read or write capture files link strata::pcap.
# Looks with pkg-config first, then with find_library/find_path. -DSTRATA_WITH_PCAP=OFF turns it off.
include_guard(GLOBAL)

option(STRATA_WITH_PCAP "Use libpcap when it is found (strata::pcap)" ON)
set(STRATA_HAVE_PCAP OFF)

if(STRATA_WITH_PCAP)
  set(_strata_pcap_libs "")
  set(_strata_pcap_incs "")
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(STRATA_PCAP_PC QUIET libpcap)
  endif()
  if(STRATA_PCAP_PC_FOUND)
    # Only the library itself: its Requires.private (dbus) matters for static links only.
    find_library(STRATA_PCAP_LIBRARY NAMES pcap HINTS ${STRATA_PCAP_PC_LIBRARY_DIRS})
    find_path(STRATA_PCAP_INCLUDE_DIR NAMES pcap/pcap.h pcap.h HINTS ${STRATA_PCAP_PC_INCLUDE_DIRS})
  else()
    find_library(STRATA_PCAP_LIBRARY NAMES pcap wpcap)
    find_path(STRATA_PCAP_INCLUDE_DIR NAMES pcap/pcap.h pcap.h)
  endif()
  mark_as_advanced(STRATA_PCAP_LIBRARY STRATA_PCAP_INCLUDE_DIR)

  if(STRATA_PCAP_LIBRARY AND STRATA_PCAP_INCLUDE_DIR)
    add_library(strata_pcap INTERFACE)
    add_library(strata::pcap ALIAS strata_pcap)
    target_include_directories(strata_pcap SYSTEM INTERFACE "${STRATA_PCAP_INCLUDE_DIR}")
    target_link_libraries(strata_pcap INTERFACE strata::strata "${STRATA_PCAP_LIBRARY}")
    target_compile_definitions(strata_pcap INTERFACE STRATA_HAVE_PCAP=1)
    set(STRATA_HAVE_PCAP ON)
  else()
    message(STATUS "strata: libpcap not found; strata::pcap is not defined (Debian: libpcap-dev)")
  endif()
endif()
