# Deployment checks (ctest -L deploy), no Docker engine or cluster needed:
#   deploy_compose_config*     docker-compose config -q on deploy/docker-compose.yml
#                              (and with the GPU override)
#   deploy_k8s_manifests       every manifest of deploy/k8s against the Kubernetes
#                              schemas (validate_k8s.js, npm kubernetes-models),
#                              the ConfigMap in step with deploy/configs
#   deploy_flags               every shoal command line in the compose files and
#                              manifests against the binaries' --helpfull
#   deploy_entrypoint          the images' entry script
#   deploy_compose_config_monitoring  the compose file with profile monitoring
#   deploy_monitoring_promtool promtool check config on deploy/monitoring's
#                              Prometheus configs (promtool_check_config.py)
#   deploy_monitoring_scrape   those configs scrape every shoal process of the
#                              compose file and the manifests, and the compose
#                              monitoring services are wired up (check_monitoring.py)
#   deploy_monitoring_dashboard  the Grafana dashboard's structure, its PromQL
#                              (promtool), and only exported metric names
#                              (fixtures/exported_metrics.txt; check_dashboard.py)
# plus one test per checker that feeds it a broken fixture and expects it to
# fail. deploy_npm_install puts the pinned npm packages (package-lock.json)
# into the build folder, once.
if(NOT SHOAL_BUILD_TESTS)
  return()
endif()

set(shoal_deploy_src ${CMAKE_CURRENT_LIST_DIR})
set(shoal_deploy_root ${PROJECT_SOURCE_DIR}/deploy)
set(shoal_node_prefix ${CMAKE_BINARY_DIR}/tests/deploy/node)

# Python 3 with PyYAML (Debian's python3-yaml): the first interpreter that
# imports it.
set(shoal_deploy_python python3)
find_program(shoal_deploy_python_on_path NAMES python3)
foreach(candidate /usr/bin/python3 ${shoal_deploy_python_on_path})
  execute_process(COMMAND ${candidate} -c "import yaml"
                  RESULT_VARIABLE shoal_deploy_python_rc OUTPUT_QUIET ERROR_QUIET)
  if(shoal_deploy_python_rc EQUAL 0)
    set(shoal_deploy_python ${candidate})
    break()
  endif()
endforeach()
if(NOT shoal_deploy_python_rc EQUAL 0)
  message(WARNING "No python3 with PyYAML (python3-yaml): deploy_flags will fail")
endif()
find_program(SHOAL_DOCKER_COMPOSE NAMES docker-compose)
if(NOT SHOAL_DOCKER_COMPOSE)
  message(WARNING "docker-compose not found (scripts/install_deps.sh installs it): deploy_compose_config will fail")
  set(SHOAL_DOCKER_COMPOSE docker-compose)
endif()
find_program(SHOAL_NODE NAMES node nodejs)
if(NOT SHOAL_NODE)
  message(WARNING "node not found: deploy_k8s_* will fail")
  set(SHOAL_NODE node)
endif()
find_program(SHOAL_PROMTOOL NAMES promtool)
if(NOT SHOAL_PROMTOOL)
  message(WARNING "promtool not found (Debian's prometheus; scripts/install_deps.sh installs it): deploy_monitoring_* will fail")
  set(SHOAL_PROMTOOL promtool)
endif()

function(shoal_deploy_test name)
  add_test(NAME ${name} COMMAND ${ARGN} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(${name} PROPERTIES LABELS deploy TIMEOUT 120)
endfunction()

# --- docker-compose ---------------------------------------------------------
shoal_deploy_test(deploy_compose_config
  ${SHOAL_DOCKER_COMPOSE} -f ${shoal_deploy_root}/docker-compose.yml config -q)
shoal_deploy_test(deploy_compose_config_gpu
  ${SHOAL_DOCKER_COMPOSE} -f ${shoal_deploy_root}/docker-compose.yml
  -f ${shoal_deploy_root}/docker/docker-compose.gpu.yml config -q)
shoal_deploy_test(deploy_compose_config_monitoring
  ${SHOAL_DOCKER_COMPOSE} -f ${shoal_deploy_root}/docker-compose.yml
  --profile monitoring config -q)
# docker-compose never reads them, but keep it from looking at the user's
# Docker contexts and host.
set_tests_properties(deploy_compose_config deploy_compose_config_gpu
  deploy_compose_config_monitoring PROPERTIES
  ENVIRONMENT "DOCKER_HOST=unix:///nonexistent/docker.sock;COMPOSE_PROJECT_NAME=shoal")

# --- Kubernetes manifests -----------------------------------------------------
shoal_deploy_test(deploy_npm_install bash ${shoal_deploy_src}/npm_install.sh ${shoal_node_prefix})
set_tests_properties(deploy_npm_install PROPERTIES
  TIMEOUT 600 FIXTURES_SETUP shoal_deploy_node)
shoal_deploy_test(deploy_k8s_manifests
  ${SHOAL_NODE} ${shoal_deploy_src}/validate_k8s.js
  --configs ${shoal_deploy_root}/configs ${shoal_deploy_root}/k8s)
shoal_deploy_test(deploy_k8s_rejects_broken
  bash ${shoal_deploy_src}/expect_failure.sh
  "port must be integer"
  "imagePullPolicy must be equal to one of the allowed values"
  "unknown field spec.replica"
  "unknown field spec.template.spec.containers[0].readinessProbe.exec.comand"
  "matches no pod template"
  "volumeMount data: no such volume"
  "uses $(SHOAL_CONFIG), which env/envFrom do not define"
  --
  ${SHOAL_NODE} ${shoal_deploy_src}/validate_k8s.js ${shoal_deploy_src}/fixtures/broken-k8s.yaml)
set_tests_properties(deploy_k8s_manifests deploy_k8s_rejects_broken PROPERTIES
  FIXTURES_REQUIRED shoal_deploy_node
  ENVIRONMENT "NODE_PATH=${shoal_node_prefix}/node_modules")

# --- command lines against the binaries ---------------------------------------
if(SHOAL_WITH_TORCH)  # shoal-learner and shoal-actor exist only then
  set(shoal_check_flags ${shoal_deploy_python} ${shoal_deploy_src}/check_flags.py
      --bin-dir ${CMAKE_BINARY_DIR} --configs ${shoal_deploy_root}/configs)
  shoal_deploy_test(deploy_flags ${shoal_check_flags}
    ${shoal_deploy_root}/docker-compose.yml
    ${shoal_deploy_root}/docker/docker-compose.gpu.yml
    ${shoal_deploy_root}/k8s)
  shoal_deploy_test(deploy_flags_rejects_bad_compose
    bash ${shoal_deploy_src}/expect_failure.sh
    "shoal-replay: unknown flag --no_such_flag"
    "shoalctl: unknown subcommand 'helth'"
    "entry i must be the service of shard i"
    "--num_actors=3 but deploy.replicas is 2"
    "no no_such_experiment.yaml in"
    --
    ${shoal_check_flags} ${shoal_deploy_src}/fixtures/bad-flags-compose.yml)
  shoal_deploy_test(deploy_flags_rejects_bad_k8s
    bash ${shoal_deploy_src}/expect_failure.sh
    "shoalctl: unknown flag --timeot_s"
    "shoal-actor: unknown flag --bogus"
    "--num_actors=2 but the Job's completions is 4"
    "replay.shards=2 but the StatefulSet has 3 replicas"
    --
    ${shoal_check_flags} ${shoal_deploy_src}/fixtures/bad-flags-k8s.yaml)
else()
  message(STATUS "SHOAL_WITH_TORCH=OFF: deploy_flags* not registered (no learner or actor binary)")
endif()

shoal_deploy_test(deploy_entrypoint
  bash ${shoal_deploy_src}/entrypoint_test.sh ${shoal_deploy_root}/docker/shoal-entrypoint)

# --- monitoring (deploy/monitoring) --------------------------------------------
set(shoal_monitoring_root ${shoal_deploy_root}/monitoring)
set(shoal_monitoring_bad ${shoal_deploy_src}/fixtures/monitoring-bad)
shoal_deploy_test(deploy_monitoring_promtool
  ${shoal_deploy_python} ${shoal_deploy_src}/promtool_check_config.py ${SHOAL_PROMTOOL}
  ${shoal_monitoring_root}/prometheus.yml ${shoal_monitoring_root}/prometheus-k8s.yml
  ${shoal_monitoring_root}/prometheus-local.yml)
shoal_deploy_test(deploy_monitoring_promtool_rejects_bad
  bash ${shoal_deploy_src}/expect_failure.sh
  "global scrape timeout greater than scrape interval"
  "namespaces takes names and own_namespace"
  --
  ${shoal_deploy_python} ${shoal_deploy_src}/promtool_check_config.py ${SHOAL_PROMTOOL}
  ${shoal_monitoring_bad}/prometheus.yml ${shoal_monitoring_bad}/prometheus-k8s.yml)

set(shoal_check_monitoring ${shoal_deploy_python} ${shoal_deploy_src}/check_monitoring.py)
shoal_deploy_test(deploy_monitoring_scrape ${shoal_check_monitoring}
  --compose ${shoal_deploy_root}/docker-compose.yml
  --prometheus ${shoal_monitoring_root}/prometheus.yml
  --k8s ${shoal_deploy_root}/k8s/base
  --prometheus-k8s ${shoal_monitoring_root}/prometheus-k8s.yml)
shoal_deploy_test(deploy_monitoring_scrape_rejects_bad
  bash ${shoal_deploy_src}/expect_failure.sh
  "service actor (--metrics_port=9200): has deploy.replicas but"
  "service replay-1 (--metrics_port=9000): not scraped"
  "target learner:9101 (job shoal-learner): service learner serves /metrics on 9100"
  "service grafana: profiles None, want ['monitoring']"
  "service grafana: port 3000:3000 is not bound to 127.0.0.1"
  "/etc/prometheus/prometheus.yml is not a mount of"
  "provider path /etc/grafana/dashboards is no mounted folder of dashboards in grafana"
  "StatefulSet shoal-replay: container replay serves metrics on 9000 but declares no such containerPort"
  "makes 1 target(s) of a running pod at 10.0.0.1"
  "Job shoal-learner: pod template annotation prometheus.io/port: '9101', want '9100'"
  "Deployment shoal-eval: pod template has no annotation prometheus.io/path"
  "scrapes a pod that has completed"
  --
  ${shoal_check_monitoring}
  --compose ${shoal_monitoring_bad}/docker-compose.yml
  --prometheus ${shoal_monitoring_bad}/prometheus.yml
  --k8s ${shoal_monitoring_bad}/k8s
  --prometheus-k8s ${shoal_monitoring_bad}/prometheus-k8s.yml)

set(shoal_check_dashboard ${shoal_deploy_python} ${shoal_deploy_src}/check_dashboard.py
    --names ${shoal_deploy_src}/fixtures/exported_metrics.txt --promtool ${SHOAL_PROMTOOL})
shoal_deploy_test(deploy_monitoring_dashboard ${shoal_check_dashboard}
  ${shoal_monitoring_root}/grafana/dashboards/shoal.json)
shoal_deploy_test(deploy_monitoring_dashboard_rejects_bad
  bash ${shoal_deploy_src}/expect_failure.sh
  "panel 'Unknown metric' (id 1): metric shoal_actor_env_stepz_total is not exported"
  "panel 'Histogram family unknown' (id 7): metric shoal_replay_flush_seconds is not exported"
  "panel 'Same id' (id 1): id 1 is also panel 'Unknown metric''s"
  "panel 'No targets' (id 3): no targets"
  "panel 'Empty expr' (id 4) target 0: no expr"
  "panel 'No gridPos' (id 5): no gridPos"
  "panel 'No datasource' (id 6) target 0: no datasource"
  "datasource \${ds} is no datasource variable"
  "panel 'Does not parse' (id 8): PromQL does not parse"
  "ratee(...) is no PromQL function"
  "gridPos overlaps panel 'Does not parse'"
  --
  ${shoal_check_dashboard} ${shoal_deploy_src}/fixtures/bad-dashboard.json)
shoal_deploy_test(deploy_monitoring_dashboard_rejects_empty
  bash ${shoal_deploy_src}/expect_failure.sh "no panel with a query" --
  ${shoal_check_dashboard} ${shoal_deploy_src}/fixtures/empty-dashboard.json)
