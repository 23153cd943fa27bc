# self_contained_test: the env conformance test run against a copy of the
# tree with nothing beside it, and no file of the tree naming
# the project machines' shared directory. Label: integration.
if(SHOAL_BUILD_TESTS AND TARGET shoal_envs_conformance_test)
  add_test(NAME self_contained_test
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/self_contained_test.sh
                   ${PROJECT_SOURCE_DIR}
                   $<TARGET_FILE:shoal_envs_conformance_test>)
  set_tests_properties(self_contained_test PROPERTIES LABELS integration
                       TIMEOUT 300)
endif()
