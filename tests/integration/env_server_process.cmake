# env_server_process_test: runs the real shoal-env-server binary with
# --metrics_port=0, steps it over gRPC and scrapes /metrics (values, and
# `promtool check metrics` on the scrape); without --metrics_port it serves
# none. Label: integration.
shoal_test(env_server_process_test
           SRCS ${CMAKE_CURRENT_LIST_DIR}/env_server_process_test.cc
           DEPS shoal_envs shoal_tools
           LABELS integration)
if(TARGET env_server_process_test)
  add_dependencies(env_server_process_test shoal-env-server)
endif()
