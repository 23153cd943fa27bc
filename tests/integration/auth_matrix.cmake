# auth_matrix_test: every RPC of ReplayService, EnvService and (with
# LibTorch) LearnerService x every role, no token and an unknown token,
# over TLS with a tokens file: allowed calls pass auth, the rest get
# UNAUTHENTICATED or PERMISSION_DENIED. Also runs the real shoal-replay with
# TLS and tokens to check that no token or key reaches its log, and greps
# every binary's --helpfull for flags taking a secret. Label: integration.
set(auth_matrix_deps shoal_replay shoal_envs)
if(SHOAL_WITH_TORCH)
  list(APPEND auth_matrix_deps shoal_learner)
endif()
shoal_test(auth_matrix_test SRCS ${CMAKE_CURRENT_LIST_DIR}/auth_matrix_test.cc
           DEPS ${auth_matrix_deps} LABELS integration TIMEOUT 120)
if(TARGET auth_matrix_test)
  add_dependencies(auth_matrix_test shoal-replay shoal-env-server shoalctl)
  if(SHOAL_WITH_TORCH)
    target_compile_definitions(auth_matrix_test PRIVATE
                               SHOAL_AUTH_MATRIX_WITH_LEARNER)
    add_dependencies(auth_matrix_test shoal-learner shoal-actor)
  endif()
endif()
