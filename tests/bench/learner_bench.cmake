# learner_bench: gradient updates per second of the learner's algorithms
# (sac, dqn, impala) on CPU with one intra-op thread, and on CUDA when
# available. Not a test; run by hand:
#   build/tests/learner_bench   (prints one JSON object per line)
if(SHOAL_WITH_TORCH)
  shoal_binary(learner_bench SRCS ${CMAKE_CURRENT_LIST_DIR}/learner_bench.cc
               DEPS shoal_learner_algorithms)
endif()
