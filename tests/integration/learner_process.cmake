# learner_process_test: runs the real shoal-replay and shoal-learner
# binaries: transitions inserted over gRPC, the learner trains and
# publishes, is SIGKILLed, restarts from its checkpoint directory with step
# and version going on, and ends with exit code 0 on SIGTERM. Label:
# integration.
if(SHOAL_WITH_TORCH)
  shoal_test(learner_process_test
             SRCS ${CMAKE_CURRENT_LIST_DIR}/learner_process_test.cc
             DEPS shoal_learner
             LABELS integration)
  if(TARGET learner_process_test)
    add_dependencies(learner_process_test shoal-replay shoal-learner)
    # Used when SHOAL_BINARY_DIR is unset (the binary run by hand).
    target_compile_definitions(learner_process_test PRIVATE
      SHOAL_REPLAY_BINARY="$<TARGET_FILE:shoal-replay>"
      SHOAL_LEARNER_BINARY="$<TARGET_FILE:shoal-learner>")
  endif()
endif()
