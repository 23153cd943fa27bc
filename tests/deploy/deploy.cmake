# Deployment checks (ctest -L deploy), no Docker engine or cluster needed:
#   deploy_compose_config*     docker-compose config -q on deploy/docker-compose.yml
#                              (and with the GPU override)
#   deploy_k8s_manifests       every manifest of deploy/k8s against the Kubernetes
#                              schemas (validate_k8s.js, npm kubernetes-models),
#                              the ConfigMap in step with deploy/configs
#   deploy_flags               every shoal command line in the compose files and
#                              manifests against the binaries' --helpfull
#   deploy_entrypoint          the images' entry script
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
# docker-compose never reads them, but keep it from looking at the user's
# Docker contexts and host.
set_tests_properties(deploy_compose_config deploy_compose_config_gpu PROPERTIES
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
