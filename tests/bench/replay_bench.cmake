# replay_bench: a replay shard served in-process on loopback against a bare
# gRPC service moving the same bytes (the limit): inserts with 1/4/16
# streams of 1 KiB and 64 KiB items, samples of 256 from a 1e6-item table
# (uniform and prioritized), and prioritized sample+update latency inside
# the table. Not a test; prints one JSON object per line:
#   build/tests/replay_bench
shoal_binary(replay_bench SRCS ${CMAKE_CURRENT_LIST_DIR}/replay_bench.cc
             DEPS shoal_replay)
