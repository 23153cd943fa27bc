# python_replay_client_test: replay_client.py, a pure-Python ReplayService
# client (stubs generated from proto/ at run time), against the real
# shoal-replay binary: info, insert, sample, a rejected insert, the command
# line, and exit 0 on SIGTERM. Label: integration.
#
# The interpreter is the one python_env.cmake picked (shoal_python3: the
# first python3 that imports grpc and grpc_tools); that file sorts first in
# tests/CMakeLists.txt's glob, but the search is repeated if it did not run.
# The test does not build shoal-replay: build that target first.
if(SHOAL_BUILD_TESTS AND TARGET shoal-replay)
  if(NOT DEFINED shoal_python3)
    set(shoal_python3 "python3")
    find_program(shoal_python3_on_path NAMES python3)
    foreach(candidate ${shoal_python3_on_path} /usr/bin/python3)
      execute_process(COMMAND ${candidate} -c "import grpc, grpc_tools"
                      RESULT_VARIABLE shoal_python3_rc
                      OUTPUT_QUIET ERROR_QUIET)
      if(shoal_python3_rc EQUAL 0)
        set(shoal_python3 ${candidate})
        break()
      endif()
    endforeach()
    if(NOT shoal_python3_rc EQUAL 0)
      message(WARNING
        "No python3 with grpc and grpc_tools: python_replay_client_test will fail")
    endif()
  endif()

  add_test(NAME python_replay_client_test
           COMMAND ${shoal_python3}
                   ${CMAKE_CURRENT_LIST_DIR}/replay_client_test.py
                   --replay_binary $<TARGET_FILE:shoal-replay>
                   --proto_dir ${PROJECT_SOURCE_DIR}/proto)
  set_tests_properties(python_replay_client_test PROPERTIES
    LABELS integration
    TIMEOUT 120
    ENVIRONMENT "SHOAL_BINARY_DIR=${CMAKE_BINARY_DIR};SHOAL_SOURCE_DIR=${PROJECT_SOURCE_DIR};PYTHONDONTWRITEBYTECODE=1")
endif()
