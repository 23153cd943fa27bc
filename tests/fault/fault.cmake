# Fault tests: real shoal processes with one fault injected each (SIGKILL
# and restart of a shard, an actor, the learner; stream resets through a
# flaky TCP proxy; a shard at max_bytes under inserts; slow and stalled
# clients; an actor's link cut for 10 s between network namespaces).
# Label: fault. The whole suite takes about 3 minutes on 2 cores.
#   ctest -L fault
if(SHOAL_BUILD_TESTS)
  shoal_library(shoal_fault_testing
                SRCS ${CMAKE_CURRENT_LIST_DIR}/fault_cluster.cc
                     ${CMAKE_CURRENT_LIST_DIR}/tcp_proxy.cc
                DEPS shoal_tools shoal_replay_client shoal_replay
                     shoal_replay_testing shoal_common_testing)

  # One shard process and its network path; needs only shoal-replay.
  shoal_test(replay_fault_test
             SRCS ${CMAKE_CURRENT_LIST_DIR}/replay_fault_test.cc
             DEPS shoal_fault_testing LABELS fault TIMEOUT 120)
  if(TARGET replay_fault_test)
    add_dependencies(replay_fault_test shoal-replay)
  endif()

  # 1,000 insert streams held back by one shard's rate limiter: no thread
  # each, others keep their latency; needs only shoal-replay.
  shoal_test(replay_held_writers_fault_test
             SRCS ${CMAKE_CURRENT_LIST_DIR}/replay_held_writers_fault_test.cc
             DEPS shoal_fault_testing LABELS fault TIMEOUT 120)
  if(TARGET replay_held_writers_fault_test)
    add_dependencies(replay_held_writers_fault_test shoal-replay)
  endif()

  if(SHOAL_WITH_TORCH)
    # A cluster (2 shards, learner, 3 actors): shard, actor and learner
    # killed and restarted; a shard at max_bytes under the actors' inserts;
    # an actor's link cut between network namespaces (skipped where
    # `ip netns` is refused).
    foreach(t cluster_fault_test memory_fault_test netns_fault_test)
      shoal_test(${t} SRCS ${CMAKE_CURRENT_LIST_DIR}/${t}.cc
                 DEPS shoal_fault_testing LABELS fault TIMEOUT 120)
      if(TARGET ${t})
        add_dependencies(${t} shoal-replay shoal-learner shoal-actor)
      endif()
    endforeach()
  endif()
endif()
