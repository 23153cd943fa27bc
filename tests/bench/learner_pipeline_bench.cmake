# learner_pipeline_bench: DQN updates per second through the learner's real
# sampling pipeline (in-process replay shard on loopback, ShardedSampler,
# BatchPipeline, Trainer) against bare Update calls on one batch, and the
# fraction of wall time the train loop waited for data (goal < 5 %). Not a
# test; run by hand:
#   build/tests/learner_pipeline_bench   (one JSON object per line)
if(SHOAL_WITH_TORCH)
  shoal_binary(learner_pipeline_bench
               SRCS ${CMAKE_CURRENT_LIST_DIR}/learner_pipeline_bench.cc
               DEPS shoal_learner shoal_replay)
endif()
