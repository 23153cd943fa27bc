# bad_input_test: a catalogue of malformed requests (wrong dtypes, shapes and
# sizes, NaN/Inf, unknown tables, keys and sessions, truncated and oversized
# messages, sequence misuse, bad sample and priority requests, bad episodes
# and env actions) sent to a real replay shard, EnvService and, with
# LibTorch, LearnerService on loopback; each row checks the documented code
# and that the message names the field, and afterwards the servers still
# answer, a concurrent well-behaved writer was undisturbed and no table
# changed. Label: integration.
set(bad_input_deps shoal_replay shoal_envs)
if(SHOAL_WITH_TORCH)
  list(APPEND bad_input_deps shoal_learner)
endif()
shoal_test(bad_input_test SRCS ${CMAKE_CURRENT_LIST_DIR}/bad_input_test.cc
           DEPS ${bad_input_deps} LABELS integration TIMEOUT 120)
if(TARGET bad_input_test AND SHOAL_WITH_TORCH)
  target_compile_definitions(bad_input_test PRIVATE
                             SHOAL_BAD_INPUT_WITH_LEARNER)
endif()
