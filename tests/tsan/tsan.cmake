# TSan builds only: proves that tests/tsan/absl_tsan_shim.cc makes Abseil's
# locks visible to ThreadSanitizer (see absl_tsan_check.cc). Label "tsan".
if(SHOAL_SANITIZE STREQUAL "thread" AND SHOAL_BUILD_TESTS)
  set(check ${CMAKE_CURRENT_LIST_DIR}/absl_tsan_check.cc)
  # shoal_binary links the shim into every executable of a TSan build.
  shoal_binary(absl_tsan_check SRCS ${check}
               DEPS absl::synchronization Threads::Threads)
  add_executable(absl_tsan_check_noshim ${check})
  target_link_libraries(absl_tsan_check_noshim PRIVATE absl::synchronization Threads::Threads)

  set(race "WARNING: ThreadSanitizer: data race")
  add_test(NAME absl_tsan_shim_locked COMMAND absl_tsan_check locked)
  set_tests_properties(absl_tsan_shim_locked PROPERTIES
    LABELS tsan FAIL_REGULAR_EXPRESSION "ThreadSanitizer")
  add_test(NAME absl_tsan_shim_racy COMMAND absl_tsan_check racy)
  add_test(NAME absl_tsan_noshim_locked COMMAND absl_tsan_check_noshim locked)
  set_tests_properties(absl_tsan_shim_racy absl_tsan_noshim_locked PROPERTIES
    LABELS tsan PASS_REGULAR_EXPRESSION "${race}")
endif()
