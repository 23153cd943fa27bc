# libFuzzer targets, built with -DSHOAL_FUZZ=ON and clang:
#   CXX=clang++-14 cmake -S . -B build-fuzz -DSHOAL_FUZZ=ON -DSHOAL_WITH_TORCH=OFF
#   cmake --build build-fuzz --target tensor_codec_fuzz config_fuzz
#   build-fuzz/tests/tensor_codec_fuzz -max_total_time=60
if(SHOAL_FUZZ)
  foreach(fuzzer tensor_codec_fuzz config_fuzz)
    shoal_binary(${fuzzer} SRCS ${CMAKE_CURRENT_LIST_DIR}/${fuzzer}.cc
                 DEPS shoal_common)
    target_compile_options(${fuzzer} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(${fuzzer} PRIVATE -fsanitize=fuzzer,address,undefined)
  endforeach()
endif()
