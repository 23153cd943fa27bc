# shoalctl_client_test: shoalctl's `params` and `health` against a real
# LearnerService (ParameterStore + GrpcServer) in the test, through the
# command functions and through the built shoalctl binary. The replay-side
# subcommands are tested in tools/client_commands_test.cc, which needs no
# LibTorch. Label: integration.
if(SHOAL_WITH_TORCH)
  shoal_test(shoalctl_client_test
             SRCS ${CMAKE_CURRENT_LIST_DIR}/shoalctl_client_test.cc
             DEPS shoal_learner shoal_tools
             LABELS integration
             TIMEOUT 120)
  if(TARGET shoalctl_client_test)
    add_dependencies(shoalctl_client_test shoalctl)
  endif()
endif()
