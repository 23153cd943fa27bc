# replay_process_test: runs the real shoal-replay binary (config file,
# ports from stdout, gRPC inserts, /metrics, SIGKILL mid-checkpoint and
# restart, SIGTERM, a bad config). Label: integration.
shoal_test(replay_process_test
           SRCS ${CMAKE_CURRENT_LIST_DIR}/replay_process_test.cc
           DEPS shoal_replay shoal_tools
           LABELS integration)
if(TARGET replay_process_test)
  add_dependencies(replay_process_test shoal-replay)
  # Used when SHOAL_BINARY_DIR is unset (the binary run by hand).
  target_compile_definitions(replay_process_test PRIVATE
    SHOAL_REPLAY_BINARY="$<TARGET_FILE:shoal-replay>")
endif()
