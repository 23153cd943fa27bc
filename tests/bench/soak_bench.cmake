# soak_bench: one real shoal-replay process under a long steady load, 64
# insert streams (1 KiB items, 16 per request, one in flight each) and 4
# samplers (256 per request), against a table held at its max_bytes bound.
# Every 10 s one JSON line (insert and sample rates, p50/p99 insert ack
# latency, the shard's resident memory); at the end a summary line with
# throughput_ratio (last minute / first minute, limit 0.9) and rss_ratio
# (end / after the first minute, limit 1.1). Not a test:
#   build/tests/soak_bench --duration_s=300
shoal_binary(soak_bench SRCS ${CMAKE_CURRENT_LIST_DIR}/soak_bench.cc
             DEPS shoal_common shoal_common_testing absl::flags)
add_dependencies(soak_bench shoal-replay)
