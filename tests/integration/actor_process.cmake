# actor_process_test: the real shoal-actor against a real shoal-replay
# process and a LearnerService served in the test (weights published,
# picked up within 100 ms; shard SIGKILLed and restarted; learner absent at
# start; SIGTERM; a config whose table does not match the env). Label:
# integration.
if(SHOAL_WITH_TORCH)
  shoal_test(actor_process_test
             SRCS ${CMAKE_CURRENT_LIST_DIR}/actor_process_test.cc
             DEPS shoal_actor shoal_learner shoal_replay_client
                  shoal_replay_testing
             LABELS integration
             TIMEOUT 120)
  if(TARGET actor_process_test)
    add_dependencies(actor_process_test shoal-actor shoal-replay)
  endif()
endif()
