# env_bench: steps per second of the built-in environments (single env
# through the Env interface, and VectorEnv of 16). Not a test; run by hand:
#   build/tests/env_bench   (prints one JSON object per line)
shoal_binary(env_bench SRCS ${CMAKE_CURRENT_LIST_DIR}/env_bench.cc DEPS shoal_envs)
