# actor_bench: env steps/s of one actor loop (cartpole, 16 envs, 2x64 dqn
# MLP, one intra-op thread) streaming to an in-process replay shard on
# loopback, against the same loop without the network call (the limit);
# and publish -> use latency of new weights (p50/p99). Not a test; run by
# hand:
#   build/tests/actor_bench   (prints one JSON object per line)
if(SHOAL_WITH_TORCH)
  shoal_binary(actor_bench SRCS ${CMAKE_CURRENT_LIST_DIR}/actor_bench.cc
               DEPS shoal_actor shoal_learner shoal_replay_client shoal_replay)
endif()
