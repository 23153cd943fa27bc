# learning_test: dqn and sac learn real built-in environments in process
# (a tiny in-test replay, one update per env step) well past random play.
# Here, not beside the learner, because it steps envs: the learner itself
# never builds one (issue 16). Label: unit.
if(SHOAL_WITH_TORCH)
  shoal_test(learning_test
             SRCS ${CMAKE_CURRENT_LIST_DIR}/learning_test.cc
             DEPS shoal_learner_algorithms shoal_envs)
endif()
