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
  endif()
  target_compile_options(${tgt} PRIVATE ${_flags})
endfunction()
