# Compile settings shared by the project's own targets, and helpers that
# declare libraries, binaries and tests in one line each.

set(SHOAL_WARNINGS -Wall -Wextra -Werror -Wno-unused-parameter)
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  list(APPEND SHOAL_WARNINGS -Wthread-safety)
endif()

# Bit-exact numerics (environments match Gymnasium's double arithmetic).
add_compile_options(-ffp-contract=off)

# Fuzzing (tests/fuzz): libFuzzer needs clang and runs under ASan+UBSan, so
# SHOAL_FUZZ=ON implies SHOAL_SANITIZE=address. All project code gets
# libFuzzer's coverage instrumentation, so the fuzzers are guided by the
# code under test and not only by their own few lines.
if(SHOAL_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "SHOAL_FUZZ=ON needs clang (CXX=clang++-14)")
  endif()
  if(SHOAL_SANITIZE STREQUAL "")
    set(SHOAL_SANITIZE address)
  elseif(NOT SHOAL_SANITIZE STREQUAL "address")
    message(FATAL_ERROR "SHOAL_FUZZ=ON needs SHOAL_SANITIZE=address or empty, got '${SHOAL_SANITIZE}'")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

if(SHOAL_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
elseif(SHOAL_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
  # Debian's Abseil is not built with TSan: without this shim every
  # absl::Mutex / CondVar / Notification handoff is invisible to TSan and
  # correctly locked code is reported as racy. tests/tsan/absl_tsan_shim.cc
  # interposes those functions and tells TSan what they do; every
  # executable links it (shoal_target_defaults). The symbols are exported
  # so that calls from shared libraries (libgrpc, Abseil itself) reach it.
  add_library(shoal_absl_tsan_shim OBJECT
              ${PROJECT_SOURCE_DIR}/tests/tsan/absl_tsan_shim.cc)
  target_link_libraries(shoal_absl_tsan_shim PUBLIC absl::synchronization ${CMAKE_DL_LIBS})
  target_link_options(shoal_absl_tsan_shim INTERFACE
    "LINKER:--dynamic-list=${PROJECT_SOURCE_DIR}/tests/tsan/absl_tsan_shim.dynlist")
elseif(NOT SHOAL_SANITIZE STREQUAL "")
  message(FATAL_ERROR "SHOAL_SANITIZE must be address, thread or empty, got '${SHOAL_SANITIZE}'")
endif()

# Applies the project's warnings and include roots to target `t`.
# Protobuf's headers go first so that a wheel's bundled copy never wins.
# In TSan builds, executables also link the Abseil shim (see above).
function(shoal_target_defaults t)
  target_compile_options(${t} PRIVATE ${SHOAL_WARNINGS})
  target_include_directories(${t} BEFORE PUBLIC ${Protobuf_INCLUDE_DIRS})
  target_include_directories(${t} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/proto)
  get_target_property(type ${t} TYPE)
  if(TARGET shoal_absl_tsan_shim AND type STREQUAL "EXECUTABLE")
    target_link_libraries(${t} PRIVATE shoal_absl_tsan_shim)
  endif()
endfunction()

# shoal_library(NAME SRCS a.cc b.cc DEPS x y)
function(shoal_library name)
  cmake_parse_arguments(A "" "" "SRCS;DEPS" ${ARGN})
  if(NOT A_SRCS)  # a module with headers only (or none yet)
    add_library(${name} INTERFACE)
    target_include_directories(${name} INTERFACE ${PROJECT_SOURCE_DIR})
    target_link_libraries(${name} INTERFACE ${A_DEPS})
    return()
  endif()
  add_library(${name} STATIC ${A_SRCS})
  shoal_target_defaults(${name})
  target_link_libraries(${name} PUBLIC ${A_DEPS})
endfunction()

# shoal_binary(NAME SRCS main.cc DEPS x y): an executable named NAME.
function(shoal_binary name)
  cmake_parse_arguments(A "" "" "SRCS;DEPS" ${ARGN})
  add_executable(${name} ${A_SRCS})
  shoal_target_defaults(${name})
  target_link_libraries(${name} PRIVATE ${A_DEPS})
endfunction()

# main() of every test binary (tests/test_main.cc): sets SHOAL_SOURCE_DIR
# and SHOAL_BINARY_DIR to this build's trees unless already set.
if(SHOAL_BUILD_TESTS)
  add_library(shoal_test_main STATIC ${PROJECT_SOURCE_DIR}/tests/test_main.cc)
  target_link_libraries(shoal_test_main PUBLIC GTest::gmock GTest::gtest
                        shoal_common_testing)
  target_compile_definitions(shoal_test_main PRIVATE
    SHOAL_SOURCE_DIR_DEFAULT="${PROJECT_SOURCE_DIR}"
    SHOAL_BINARY_DIR_DEFAULT="${PROJECT_BINARY_DIR}")
endif()

# shoal_test(NAME SRCS x_test.cc DEPS x LABELS unit): a GoogleTest binary
# registered with ctest, one ctest entry per TEST().
function(shoal_test name)
  cmake_parse_arguments(A "" "TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  if(NOT SHOAL_BUILD_TESTS)
    return()
  endif()
  add_executable(${name} ${A_SRCS})
  shoal_target_defaults(${name})
  target_link_libraries(${name} PRIVATE ${A_DEPS} shoal_test_main)
  if(NOT A_LABELS)
    set(A_LABELS unit)
  endif()
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  include(GoogleTest)
  gtest_discover_tests(${name}
    PROPERTIES LABELS "${A_LABELS}" TIMEOUT ${A_TIMEOUT}
    DISCOVERY_TIMEOUT 60)
endfunction()

# shoal_module(NAME DEPS a b TEST_DEPS c): the library NAME from every .cc in
# the current folder except *_test.cc / *_main.cc / *_bench.cc / *_fuzz.cc,
# plus one test binary per *_test.cc (linking NAME and TEST_DEPS).
function(shoal_module name)
  cmake_parse_arguments(A "" "" "DEPS;TEST_DEPS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cc)
  list(FILTER srcs EXCLUDE REGEX "(_test|_main|_bench|_fuzz)\\.cc$")
  shoal_library(${name} SRCS ${srcs} DEPS ${A_DEPS})
  file(GLOB tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_test.cc)
  foreach(t ${tests})
    get_filename_component(base ${t} NAME_WE)
    shoal_test(${name}_${base} SRCS ${t} DEPS ${name} ${A_TEST_DEPS})
  endforeach()
endfunction()

# Adds LibTorch's flags and libraries to target `t` (PUBLIC).
function(shoal_link_torch t)
  get_target_property(type ${t} TYPE)
  set(scope PUBLIC)
  if(type STREQUAL "INTERFACE_LIBRARY")
    set(scope INTERFACE)
  endif()
  target_link_libraries(${t} ${scope} ${TORCH_LIBRARIES})
  separate_arguments(flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
  target_compile_options(${t} ${scope} ${flags})
endfunction()
