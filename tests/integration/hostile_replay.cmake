# hostile_replay_test: a real shoal-replay against the hostile clients that
# store or hold something (sequence numbers going back, unknown fields,
# stalled samplers of large items), its resident memory measured. Label:
# integration.
if(TARGET shoal_fault_testing)
  shoal_test(hostile_replay_test
             SRCS ${CMAKE_CURRENT_LIST_DIR}/hostile_replay_test.cc
             DEPS shoal_fault_testing LABELS integration TIMEOUT 120)
  if(TARGET hostile_replay_test)
    add_dependencies(hostile_replay_test shoal-replay)
  endif()
endif()
