# remote_env_bench: remote CartPole steps/s over loopback (C++ env server),
# printed as one JSON line.
shoal_binary(remote_env_bench SRCS ${CMAKE_CURRENT_LIST_DIR}/remote_env_bench.cc
             DEPS shoal_envs)
