# shoalctl_run_test: `shoalctl run` end to end with the real binaries: a
# small cartpole run learns and every child exits 0; SIGINT halfway leaves
# no process behind; a child killed mid-run is reported with its log.
# Label: e2e.
if(SHOAL_WITH_TORCH)
  shoal_test(shoalctl_run_test SRCS ${CMAKE_CURRENT_LIST_DIR}/shoalctl_run_test.cc
             DEPS shoal_common LABELS e2e TIMEOUT 400)
  if(TARGET shoalctl_run_test)
    add_dependencies(shoalctl_run_test shoalctl shoal-replay shoal-learner shoal-actor)
  endif()
endif()
if(TARGET shoalctl_run_test AND TARGET shoal-sync)
  add_dependencies(shoalctl_run_test shoal-sync)
endif()
