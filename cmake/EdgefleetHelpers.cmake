# One helper per kind of target, so every module is declared the same way.
#
#   edgefleet_library(NAME name SRCS ... [DEPS ...] [PUBLIC_DEPS ...] [FREESTANDING])
#       -> target edgefleet_<name>, alias edgefleet::<name>
#   edgefleet_executable(NAME name SRCS ... [DEPS ...])   -> build/bin/<name>
#   edgefleet_test(NAME name SRCS ... [DEPS ...] [LABELS ...] [TEST_FILTER expr])
#       -> a GoogleTest binary registered with ctest through gtest_discover_tests,
#          one ctest test per test case (only those matching TEST_FILTER, a
#          --gtest_filter expression, when given)

include(GoogleTest)

# The one warnings target (STYLE.md, practice 9).
add_library(edgefleet_warnings INTERFACE)
add_library(edgefleet::warnings ALIAS edgefleet_warnings)
target_compile_options(edgefleet_warnings INTERFACE
  -Wall -Wextra -Wconversion -Wsign-conversion -Wshadow -Wold-style-cast
  -Wsuggest-override -Wdouble-promotion -Wvla -Wnon-virtual-dtor)
if(EDGEFLEET_WERROR)
  target_compile_options(edgefleet_warnings INTERFACE -Werror)
endif()

# The sanitizer configuration (ASan + UBSan): applied to the whole tree when
# EDGEFLEET_SANITIZE is on (the build-asan tree that `make test` also runs).
add_library(edgefleet_sanitize INTERFACE)
if(EDGEFLEET_SANITIZE)
  target_compile_options(edgefleet_sanitize INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(edgefleet_sanitize INTERFACE -fsanitize=address,undefined)
endif()

# Flags of the freestanding core: no exceptions, no RTTI, no guarded statics.
set(EDGEFLEET_FREESTANDING_FLAGS -fno-exceptions -fno-rtti -fno-threadsafe-statics)

function(edgefleet_library)
  cmake_parse_arguments(ARG "FREESTANDING" "NAME" "SRCS;DEPS;PUBLIC_DEPS" ${ARGN})
  add_library(edgefleet_${ARG_NAME} STATIC ${ARG_SRCS})
  add_library(edgefleet::${ARG_NAME} ALIAS edgefleet_${ARG_NAME})
  target_include_directories(edgefleet_${ARG_NAME} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(edgefleet_${ARG_NAME}
    PRIVATE edgefleet_warnings ${ARG_DEPS}
    PUBLIC edgefleet_sanitize ${ARG_PUBLIC_DEPS})
  if(ARG_FREESTANDING)
    target_compile_options(edgefleet_${ARG_NAME} PRIVATE ${EDGEFLEET_FREESTANDING_FLAGS})
  endif()
endfunction()

function(edgefleet_executable)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE edgefleet_warnings edgefleet_sanitize ${ARG_DEPS})
endfunction()

function(edgefleet_test)
  cmake_parse_arguments(ARG "" "NAME;TEST_FILTER" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  set_target_properties(${ARG_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(${ARG_NAME} PRIVATE edgefleet_warnings edgefleet_sanitize
    GTest::gtest GTest::gtest_main GTest::gmock ${ARG_DEPS})
  target_compile_definitions(${ARG_NAME} PRIVATE
    EDGEFLEET_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  set(filter_args)
  if(ARG_TEST_FILTER)
    set(filter_args TEST_FILTER ${ARG_TEST_FILTER})
  endif()
  gtest_discover_tests(${ARG_NAME}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    PROPERTIES LABELS "${ARG_LABELS}"
    DISCOVERY_TIMEOUT 60
    ${filter_args})
endfunction()

find_package(GTest REQUIRED)
