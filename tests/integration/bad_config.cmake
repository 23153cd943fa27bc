# Real binaries given bad configs: one stderr line, exit status 2.
shoal_test(bad_config_test SRCS ${CMAKE_CURRENT_LIST_DIR}/bad_config_test.cc
           DEPS shoal_common LABELS integration)
if(TARGET bad_config_test)
  if(SHOAL_WITH_TORCH)
    target_compile_definitions(bad_config_test PRIVATE SHOAL_HAVE_TORCH_BINARIES)
    add_dependencies(bad_config_test shoal-learner shoal-actor shoal-sync)
  endif()
  add_dependencies(bad_config_test shoal-replay shoalctl)
endif()
