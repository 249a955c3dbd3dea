# Runs one compile-fail test or its twin. Invoked by ctest:
#   cmake -DCONFIG=<compile_fail_config.cmake> -DSOURCE=<file.cpp> -DMODE=fail|twin -P run.cmake
#
# Directives read from SOURCE (comment lines, anywhere in the file; put them at the top):
#   // expect: <regex>            every one must match the diagnostics (CMake regex syntax)
#   // expect-gcc: <regex>        only checked with g++;   // expect-clang: <regex> only with clang
#   // max-lines: N               cap on the diagnostic's line count (default CF_DEFAULT_MAX_LINES = 60)
#   // max-lines-gcc: N, // max-lines-clang: N   per-compiler caps, override max-lines
#
# The regexes are matched against the diagnostics with the echoed source lines (carets, gutters) removed and
# every file location replaced by <file>, so a regex matches what the compiler SAYS, not the test's own code
# or its file name. The line cap counts the full output as a user sees it.
cmake_minimum_required(VERSION 3.21)

foreach(_v CONFIG SOURCE MODE)
  if(NOT DEFINED ${_v})
    message(FATAL_ERROR "run.cmake: -D${_v}=... is required")
  endif()
endforeach()
if(NOT MODE MATCHES "^(fail|twin)$")
  message(FATAL_ERROR "run.cmake: MODE must be fail or twin, not '${MODE}'")
endif()
include("${CONFIG}")

# cf_fail(<summary> <details>...): prints the details verbatim (FATAL_ERROR would re-wrap the compiler's
# output), then fails the test with the summary. Arguments are read one by one: diagnostics hold semicolons.
function(cf_fail summary)
  set(details "")
  if(ARGC GREATER 1)
    math(EXPR last "${ARGC} - 1")
    foreach(i RANGE 1 ${last})
      string(APPEND details "${ARGV${i}}")
    endforeach()
  endif()
  message(NOTICE "${details}")
  message(FATAL_ERROR "${summary}")
endfunction()
get_filename_component(_name "${SOURCE}" NAME_WE)

if(CF_COMPILER_ID MATCHES "Clang")
  set(_family clang)
elseif(CF_COMPILER_ID STREQUAL "GNU")
  set(_family gcc)
else()
  set(_family other)
endif()

# --- read the directives -------------------------------------------------------------------------------
file(READ "${SOURCE}" _text)
if(NOT _text MATCHES "STRATA_COMPILE_FAIL")
  message(FATAL_ERROR "${_name}: never mentions STRATA_COMPILE_FAIL, so its failing and compiling halves are "
                      "the same code and the test cannot fail as intended")
endif()
# Protect list-special characters before splitting the file into lines.
string(REPLACE ";" "<strata-semi>" _text "${_text}")
string(REPLACE "[" "<strata-lb>" _text "${_text}")
string(REPLACE "]" "<strata-rb>" _text "${_text}")
string(REPLACE "\r" "" _text "${_text}")
string(REPLACE "\n" ";" _lines "${_text}")
set(_expects "")
set(_max_lines "${CF_DEFAULT_MAX_LINES}")
set(_max_lines_family "")
foreach(_line IN LISTS _lines)
  if(_line MATCHES "^[ \t]*//[ \t]*(expect|expect-gcc|expect-clang|max-lines|max-lines-gcc|max-lines-clang)[ \t]*:[ \t]*(.*)$")
    set(_key "${CMAKE_MATCH_1}")
    string(STRIP "${CMAKE_MATCH_2}" _value)  # still with the placeholders: restored where it is used
    if(_value STREQUAL "")
      message(FATAL_ERROR "${_name}: empty '// ${_key}:' directive")
    endif()
    if(_key STREQUAL "expect" OR _key STREQUAL "expect-${_family}")
      list(APPEND _expects "${_value}")
    elseif(_key STREQUAL "max-lines" OR _key STREQUAL "max-lines-${_family}")
      if(NOT _value MATCHES "^[0-9]+$")
        message(FATAL_ERROR "${_name}: '// ${_key}: ${_value}' is not a number")
      endif()
      if(_key STREQUAL "max-lines")
        set(_max_lines "${_value}")
      else()
        set(_max_lines_family "${_value}")
      endif()
    endif()
  endif()
endforeach()
if(NOT _max_lines_family STREQUAL "")
  set(_max_lines "${_max_lines_family}")
endif()
if(MODE STREQUAL "fail" AND NOT _expects)
  message(FATAL_ERROR "${_name}: no '// expect: <regex>' line, so nothing checks that it fails for the intended reason")
endif()

# --- compile ----------------------------------------------------------------------------------------------
set(_cmd "${CF_CXX}")
if(NOT CF_CXX_FLAGS STREQUAL "")
  separate_arguments(_flags UNIX_COMMAND "${CF_CXX_FLAGS}")
  list(APPEND _cmd ${_flags})
endif()
list(APPEND _cmd -std=c++20 -fsyntax-only -fdiagnostics-color=never -Wall -Wextra -Wpedantic)
foreach(_dir IN LISTS CF_INCLUDES)
  list(APPEND _cmd "-I${_dir}")
endforeach()
set(_seen "")
foreach(_dir IN LISTS CF_SYSTEM_INCLUDES)
  # Like CMake itself, never pass the compiler's own include dirs (-isystem /usr/include breaks #include_next).
  if(_dir STREQUAL "" OR _dir IN_LIST CF_IMPLICIT_INCLUDES OR _dir IN_LIST _seen)
    continue()
  endif()
  list(APPEND _seen "${_dir}")
  list(APPEND _cmd "-isystem" "${_dir}")
endforeach()
if(MODE STREQUAL "fail")
  list(APPEND _cmd -DSTRATA_COMPILE_FAIL)
else()
  list(APPEND _cmd -Werror)
endif()
list(APPEND _cmd "${SOURCE}")

string(REPLACE ";" " " _cmd_text "${_cmd}")
execute_process(COMMAND ${_cmd}
  WORKING_DIRECTORY "${CF_PROJECT_SOURCE_DIR}"
  RESULT_VARIABLE _rc
  OUTPUT_VARIABLE _out
  ERROR_VARIABLE _out)

if(MODE STREQUAL "twin")
  if(NOT _rc EQUAL 0)
    cf_fail("compile_twin.${_name}: the compiling twin (without STRATA_COMPILE_FAIL) does not compile with ${CF_COMPILER_ID}, so compile_fail.${_name} proves nothing"
            "command: ${_cmd_text}\n--- diagnostics ---\n${_out}--- end ---")
  endif()
  message(STATUS "compile_twin.${_name}: compiles cleanly with ${CF_COMPILER_ID}")
  return()
endif()

# --- MODE fail: it must not compile, every regex must match, and the diagnostic must stay short -----------
if(_rc EQUAL 0)
  cf_fail("compile_fail.${_name}: compiled with -DSTRATA_COMPILE_FAIL and ${CF_COMPILER_ID}, but must not"
          "command: ${_cmd_text}\n--- output ---\n${_out}--- end ---")
endif()

string(REGEX REPLACE "\n$" "" _trimmed "${_out}")
string(REGEX MATCHALL "\n" _newlines "${_trimmed}")
list(LENGTH _newlines _line_count)
math(EXPR _line_count "${_line_count} + 1")

# The text the regexes see: what the compiler says, without echoed source and without file names.
set(_said "${_out}")
string(REPLACE "\r" "" _said "${_said}")
string(REPLACE ";" "<strata-semi>" _said "${_said}")
string(REPLACE "[" "<strata-lb>" _said "${_said}")
string(REPLACE "]" "<strata-rb>" _said "${_said}")
string(REPLACE "\n" ";" _said_lines "${_said}")
set(_kept "")
list(LENGTH _said_lines _n)
set(_i 0)
while(_i LESS _n)
  list(GET _said_lines ${_i} _l)
  math(EXPR _next "${_i} + 1")
  set(_drop FALSE)
  if(_l MATCHES "^ *[0-9]* \\|")  # g++: "   12 |   code" and "      |   ^~~~"
    set(_drop TRUE)
  elseif(_l MATCHES "^[ ~]*\\^[ ~^]*$")  # clang: caret line
    set(_drop TRUE)
  elseif(_next LESS _n)
    list(GET _said_lines ${_next} _l2)
    if(_l2 MATCHES "^[ ~]*\\^[ ~^]*$")  # clang: the source line above a caret line
      set(_drop TRUE)
    endif()
  endif()
  if(NOT _drop)
    string(APPEND _kept "${_l}\n")
  endif()
  set(_i ${_next})
endwhile()
set(_said "${_kept}")
string(REGEX REPLACE "[^ \t\n'\"`]+\\.(cpp|cxx|cc|c|hpp|hxx|hh|h|ipp|tcc|inl)(:[0-9]+)*" "<file>" _said "${_said}")
string(REGEX REPLACE "[^ \t\n'\"`]*/include/c\\+\\+/[0-9.]+/[^ \t\n:,]+(:[0-9]+)*" "<file>" _said "${_said}")
string(REPLACE "<strata-semi>" ";" _said "${_said}")
string(REPLACE "<strata-lb>" "[" _said "${_said}")
string(REPLACE "<strata-rb>" "]" _said "${_said}")

set(_problems "")
foreach(_re IN LISTS _expects)
  string(REPLACE "<strata-semi>" ";" _re "${_re}")
  string(REPLACE "<strata-lb>" "[" _re "${_re}")
  string(REPLACE "<strata-rb>" "]" _re "${_re}")
  if(NOT _said MATCHES "${_re}")
    string(APPEND _problems "  - no match for expect regex: ${_re}\n")
  endif()
endforeach()
if(_line_count GREATER _max_lines)
  string(APPEND _problems "  - the diagnostic has ${_line_count} lines, more than max-lines ${_max_lines}\n")
endif()

if(NOT _problems STREQUAL "")
  cf_fail("compile_fail.${_name} (${CF_COMPILER_ID}) fails, but not as expected:\n${_problems}"
          "command: ${_cmd_text}\n"
          "--- diagnostics (${_line_count} lines) ---\n${_out}"
          "--- what the expect regexes were matched against ---\n${_said}--- end ---\n"
          "compile_fail.${_name} (${CF_COMPILER_ID}):\n${_problems}")
endif()
list(LENGTH _expects _n_expects)
message(STATUS "compile_fail.${_name}: fails as intended with ${CF_COMPILER_ID} "
               "(${_n_expects} regexes matched, ${_line_count}/${_max_lines} lines)")
