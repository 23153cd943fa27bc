# libFuzzer targets, built with -DSHOAL_FUZZ=ON and clang (which implies
# SHOAL_SANITIZE=address: ASan + UBSan, with all project code instrumented
# for coverage; see cmake/ShoalTargets.cmake):
#   CXX=clang++-14 cmake -S . -B build-fuzz -DSHOAL_FUZZ=ON -DSHOAL_WITH_TORCH=OFF
#   cmake --build build-fuzz --target shoal_fuzzers
#   mkdir -p /tmp/corpus && build-fuzz/tests/replay_insert_fuzz \
#       -max_total_time=600 /tmp/corpus tests/fuzz/corpus/replay_insert_fuzz
# Seeds live in tests/fuzz/corpus/<fuzzer>/ (tests/fuzz/make_corpus.sh);
# scripts/check_sanitizers.sh runs every fuzzer for 30 s.
#
#   tensor_codec_fuzz       wire Tensor against a spec (common/tensor_codec)
#   config_fuzz             experiment config YAML (common/config)
#   replay_insert_fuzz      InsertRequest: validation + insert + sample back
#   replay_checkpoint_fuzz  replay checkpoint file: load, use, round trip
#   parameter_chunks_fuzz   ParametersChunk streams into the actor's
#                           ParameterWatcher, over gRPC
#   prioritized_selector_fuzz  extreme priorities and exponents against the
#                           sum tree, directly and through a Table
#   env_step_fuzz           Open/Reset/Step/Close requests to the env
#                           server's EnvServiceImpl, over in-process gRPC
if(SHOAL_FUZZ)
  # shoal_fuzzer(NAME SRCS extra.cc DEPS x): NAME from tests/fuzz/NAME.cc.
  function(shoal_fuzzer name)
    cmake_parse_arguments(A "" "" "SRCS;DEPS" ${ARGN})
    shoal_binary(${name} SRCS ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/${name}.cc ${A_SRCS}
                 DEPS ${A_DEPS})
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  endfunction()

  shoal_fuzzer(tensor_codec_fuzz DEPS shoal_common)
  shoal_fuzzer(config_fuzz DEPS shoal_common)
  shoal_fuzzer(replay_insert_fuzz DEPS shoal_replay)
  shoal_fuzzer(replay_checkpoint_fuzz DEPS shoal_replay)
  shoal_fuzzer(prioritized_selector_fuzz DEPS shoal_replay)
  # The actor's reassembly (learner/client, torch-free).
  shoal_fuzzer(parameter_chunks_fuzz DEPS shoal_learner_client)
  shoal_fuzzer(env_step_fuzz DEPS shoal_envs)
  add_custom_target(shoal_fuzzers DEPENDS tensor_codec_fuzz config_fuzz
    replay_insert_fuzz replay_checkpoint_fuzz parameter_chunks_fuzz
    prioritized_selector_fuzz env_step_fuzz)
endif()
