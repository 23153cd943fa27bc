# bad_input_learner_test: the real shoal-learner flooded with ReportEpisodes
# carrying 1.2 million distinct actor indices (issue 14); its VmRSS must grow
# by under 32 MiB and it must keep answering. Label: integration.
if(SHOAL_WITH_TORCH)
  shoal_test(bad_input_learner_test
             SRCS ${CMAKE_CURRENT_LIST_DIR}/bad_input_learner_test.cc
             DEPS shoal_learner LABELS integration TIMEOUT 120)
  if(TARGET bad_input_learner_test)
    add_dependencies(bad_input_learner_test shoal-learner shoal-replay)
  endif()
endif()
