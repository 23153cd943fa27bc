# layering_test: no module includes what its layer may not (learner ->
# actor, replay -> LibTorch/actor/learner, common -> LibTorch ...), over the
# source tree; layering_test_catches_a_violation runs it on a fixture tree
# that breaks a rule. Link-level rules fail CMake itself
# (cmake/ShoalLayering.cmake). Label: unit.
if(SHOAL_BUILD_TESTS)
  add_test(NAME layering_test
           COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/check_layering.py
                   ${PROJECT_SOURCE_DIR})
  add_test(NAME layering_test_catches_a_violation
           COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/check_layering.py
                   ${CMAKE_CURRENT_LIST_DIR}/fixtures/bad)
  set_tests_properties(layering_test PROPERTIES LABELS unit TIMEOUT 60)
  set_tests_properties(layering_test_catches_a_violation PROPERTIES
    LABELS unit TIMEOUT 60
    PASS_REGULAR_EXPRESSION "learner/trainer.h:2: \"actor/envs/env.h\".*\n1 includes break the layering")
endif()
