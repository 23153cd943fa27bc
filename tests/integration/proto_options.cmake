# proto_options_test: the .proto files carry go_package, java_package,
# java_multiple_files and csharp_namespace, and protoc generates each
# language into the package they name. Label: integration.
if(SHOAL_BUILD_TESTS)
  add_test(NAME proto_options_test
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/proto_options_test.sh
                   ${PROJECT_SOURCE_DIR}/proto)
  set_tests_properties(proto_options_test PROPERTIES LABELS integration
                       TIMEOUT 120)
endif()
