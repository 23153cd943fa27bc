# python_env_test: a pure-Python EnvService server (env_server.py), run as a
# subprocess and stepped from C++ through the remote Env.
#
# Python 3 with grpcio and grpc_tools is a project dependency. The first
# interpreter below that imports both is compiled in as the default
# (SHOAL_PYTHON overrides it at run time); with none, the test fails.
set(shoal_python3 "python3")
find_program(shoal_python3_on_path NAMES python3)
foreach(candidate ${shoal_python3_on_path} /usr/bin/python3)
  execute_process(COMMAND ${candidate} -c "import grpc, grpc_tools"
                  RESULT_VARIABLE shoal_python3_rc OUTPUT_QUIET ERROR_QUIET)
  if(shoal_python3_rc EQUAL 0)
    set(shoal_python3 ${candidate})
    break()
  endif()
endforeach()
if(NOT shoal_python3_rc EQUAL 0)
  message(WARNING "No python3 with grpc and grpc_tools: python_env_test will fail")
endif()

shoal_test(python_env_test SRCS ${CMAKE_CURRENT_LIST_DIR}/python_env_test.cc
           DEPS shoal_envs LABELS integration)
if(TARGET python_env_test)
  target_compile_definitions(python_env_test PRIVATE
    SHOAL_PYTHON3="${shoal_python3}")
endif()
