# strata_target_warnings(<target>)
#
# Turns on strata's warning set for one of the project's OWN targets (tests, examples, benchmarks, the header
# self-containment check). Never call it on the INTERFACE target `strata`: consumers choose their own warnings.
# Set STRATA_WARNINGS_AS_ERRORS=OFF to keep the warnings but not fail on them.
include_guard(GLOBAL)

option(STRATA_WARNINGS_AS_ERRORS "Treat warnings as errors in strata's own targets" ON)

function(strata_target_warnings tgt)
  if(NOT TARGET ${tgt})
    message(FATAL_ERROR "strata_target_warnings: no target named '${tgt}'")
  endif()
  get_target_property(_type ${tgt} TYPE)
  if(_type STREQUAL "INTERFACE_LIBRARY")
    message(FATAL_ERROR "strata_target_warnings: '${tgt}' is an INTERFACE target; warnings would leak to consumers")
  endif()
  if(MSVC)
    set(_flags /W4 /permissive-)
    if(STRATA_WARNINGS_AS_ERRORS)
      list(APPEND _flags /WX)
    endif()
  else()
    set(_flags -Wall -Wextra -Wpedantic)
    if(STRATA_WARNINGS_AS_ERRORS)
      list(APPEND _flags -Werror)
    endif()
    # g++ 12 reports std::string concatenations in libstdc++ as overlapping memcpy at -O2 (GCC bug
    # 105329, fixed in 13): a false positive in the standard library, not in strata.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
      list(APPEND _flags -Wno-restrict)
      # ...and indexes into a policy's empty filter array (std::array<T, 0>) on paths that loop zero
      # times (the `observe` policy) as out of bounds: GCC 12's -Warray-bounds false positives.
      list(APPEND _flags -Wno-array-bounds)
    endif()
  endif()
  # A policy is gathered in one constant evaluation: clang's default budget (2^20 steps) ends near
  # 300 filters, g++'s (2^25) holds thousands. strata's own large generated policies get g++'s budget;
  # consumers with large policies add the same flag themselves (see README).
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    list(APPEND _flags -fconstexpr-steps=33554432)
  endif()
  target_compile_options(${tgt} PRIVATE ${_flags})
endfunction()
