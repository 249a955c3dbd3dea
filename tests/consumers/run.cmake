# Drives one consumer test (see tests/consumers/CMakeLists.txt):
#   cmake -DKIND=find_package|add_subdirectory -DSTRATA_ROOT=... -DSTRATA_BUILD_DIR=... -DSTRATA_VERSION=...
#         -DWORK_DIR=... -DGENERATOR=... -DMAKE_PROGRAM=... -DCXX=... -DCXX_FLAGS=... -DBUILD_TYPE=... -P run.cmake
cmake_minimum_required(VERSION 3.21)
foreach(_v KIND STRATA_ROOT STRATA_BUILD_DIR STRATA_VERSION WORK_DIR GENERATOR CXX)
  if(NOT DEFINED ${_v} OR "${${_v}}" STREQUAL "")
    message(FATAL_ERROR "consumer run.cmake: -D${_v}=... is required")
  endif()
endforeach()
if(NOT BUILD_TYPE)
  set(BUILD_TYPE Release)
endif()

function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  string(REPLACE ";" " " cmd "${ARGN}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer.${KIND}: ${what} failed (${rc})\ncommand: ${cmd}\n--- output ---\n${out}")
  endif()
  message(STATUS "consumer.${KIND}: ${what}: ok")
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

# A scratch area, fresh each run.
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

set(_configure "${CMAKE_COMMAND}" -S "${STRATA_ROOT}/tests/consumers/${KIND}" -B "${WORK_DIR}/build"
    -G "${GENERATOR}" "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}" "-DCMAKE_CXX_COMPILER=${CXX}"
    "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}")
if(MAKE_PROGRAM)
  list(APPEND _configure "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()

if(KIND STREQUAL "find_package")
  set(_prefix "${WORK_DIR}/prefix")
  run_step("cmake --install into ${_prefix}"
    "${CMAKE_COMMAND}" --install "${STRATA_BUILD_DIR}" --prefix "${_prefix}" --config "${BUILD_TYPE}")
  if(NOT EXISTS "${_prefix}/include/strata/version.hpp")
    message(FATAL_ERROR "consumer.find_package: the install has no include/strata/version.hpp")
  endif()
  file(GLOB_RECURSE _configs "${_prefix}/*/strataConfig.cmake")
  if(NOT _configs)
    message(FATAL_ERROR "consumer.find_package: the install has no strataConfig.cmake")
  endif()
  list(APPEND _configure "-DCMAKE_PREFIX_PATH=${_prefix}" -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON
       "-DSTRATA_EXPECTED_PREFIX=${_prefix}")
elseif(KIND STREQUAL "add_subdirectory")
  list(APPEND _configure "-DSTRATA_ROOT=${STRATA_ROOT}")
else()
  message(FATAL_ERROR "consumer run.cmake: unknown KIND '${KIND}'")
endif()

run_step("configure" ${_configure})
run_step("build" "${CMAKE_COMMAND}" --build "${WORK_DIR}/build" --config "${BUILD_TYPE}" --parallel 2)

set(_exe "${WORK_DIR}/build/strata_consumer")
if(NOT EXISTS "${_exe}" AND EXISTS "${WORK_DIR}/build/${BUILD_TYPE}/strata_consumer")
  set(_exe "${WORK_DIR}/build/${BUILD_TYPE}/strata_consumer")
endif()
run_step("run" "${_exe}")
message(STATUS "consumer.${KIND}: program said: ${step_output}")
if(NOT step_output MATCHES "strata ${STRATA_VERSION}")
  message(FATAL_ERROR "consumer.${KIND}: expected the program to report 'strata ${STRATA_VERSION}', got:\n${step_output}")
endif()
