# prometheus_test: Debian's real Prometheus and promtool against a live
# `shoalctl run` cluster (tests/monitoring/prometheus_test.py). Label:
# integration. Needs the prometheus package (scripts/install_deps.sh); the
# script uses Python's standard library only.
if(SHOAL_BUILD_TESTS AND TARGET shoalctl AND TARGET shoal-actor)
  add_test(NAME prometheus_test
           COMMAND python3
                   ${CMAKE_CURRENT_LIST_DIR}/prometheus_test.py
                   $<TARGET_FILE:shoalctl>
                   ${PROJECT_SOURCE_DIR}/deploy/configs/cartpole_dqn.yaml
                   ${PROJECT_SOURCE_DIR}/deploy/monitoring/prometheus-local.yml
                   ${PROJECT_SOURCE_DIR}/deploy/monitoring/grafana/dashboards/shoal.json
                   ${PROJECT_SOURCE_DIR}/tests/deploy/check_dashboard.py)
  # Its cluster and Prometheus take both cores of a CI machine.
  set_tests_properties(prometheus_test PROPERTIES LABELS integration
                       TIMEOUT 300 RUN_SERIAL TRUE)
endif()
