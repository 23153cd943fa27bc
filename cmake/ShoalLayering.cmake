# Link-level layering (README "Layout"): configuring fails when a library
# links, directly or through another, a library its layer may not use (a
# learner an env, replay LibTorch, a client its server, anything shipped a
# *_testing helper library). The
# include-level rules are tests/layering/check_layering.py (ctest).
#
#   shoal_forbid_links(TARGET t FORBID a b ... [FORBID_MATCHING regex])

# Every library `target` links, transitively, into the variable `out`.
function(shoal_link_closure target out)
  set(seen "")
  set(queue ${target})
  while(queue)
    list(POP_FRONT queue current)
    if(NOT TARGET ${current})
      continue()
    endif()
    get_target_property(links ${current} LINK_LIBRARIES)
    get_target_property(interface ${current} INTERFACE_LINK_LIBRARIES)
    foreach(link IN LISTS links interface)
      if(link AND NOT link MATCHES "NOTFOUND$" AND NOT link IN_LIST seen)
        list(APPEND seen ${link})
        list(APPEND queue ${link})
      endif()
    endforeach()
  endwhile()
  set(${out} ${seen} PARENT_SCOPE)
endfunction()

function(shoal_forbid_links)
  cmake_parse_arguments(A "" "TARGET;FORBID_MATCHING;WHY" "FORBID" ${ARGN})
  if(NOT TARGET ${A_TARGET})
    return()
  endif()
  shoal_link_closure(${A_TARGET} closure)
  foreach(link IN LISTS closure)
    if(link IN_LIST A_FORBID OR
       (A_FORBID_MATCHING AND link MATCHES "${A_FORBID_MATCHING}"))
      message(FATAL_ERROR
        "layering: ${A_TARGET} links ${link} (${A_WHY}); see cmake/ShoalLayering.cmake")
    endif()
  endforeach()
endfunction()

set(shoal_torch_libraries "(^|/)(lib)?(torch|torch_cpu|torch_cuda|c10|c10_cuda)(\\.|$)")
foreach(learner shoal_learner shoal_learner_algorithms)
  shoal_forbid_links(TARGET ${learner} FORBID shoal_envs shoal_actor
                     WHY "the learner never builds an env")
endforeach()
foreach(replay shoal_replay shoal_replay_client shoal_replay_selectors)
  shoal_forbid_links(TARGET ${replay}
                     FORBID shoal_envs shoal_actor shoal_learner
                            shoal_learner_algorithms shoal_common_torch
                     FORBID_MATCHING "${shoal_torch_libraries}"
                     WHY "replay is below actor and learner, without LibTorch")
endforeach()
shoal_forbid_links(TARGET shoal_common FORBID_MATCHING "${shoal_torch_libraries}"
                   WHY "only shoal_common_torch links LibTorch")
shoal_forbid_links(TARGET shoal_envs FORBID_MATCHING "${shoal_torch_libraries}"
                   WHY "environments do not use LibTorch")
shoal_forbid_links(TARGET shoal_learner_client
                   FORBID shoal_envs shoal_actor shoal_learner
                          shoal_learner_algorithms shoal_common_torch
                   FORBID_MATCHING "${shoal_torch_libraries}"
                   WHY "the learner's clients are torch-free and below the actor")
shoal_forbid_links(TARGET shoal_replay_client FORBID shoal_replay
                   WHY "a client does not link its server")

# Test helpers stay out of what ships.
foreach(production shoal_proto shoal_common shoal_common_torch shoal_envs
                   shoal_replay shoal_replay_selectors shoal_replay_client
                   shoal_learner_client
                   shoal_actor shoal_learner shoal_learner_algorithms
                   shoal_sync shoal_tools shoal-replay shoal-learner
                   shoal-actor shoal-sync shoal-env-server shoalctl)
  shoal_forbid_links(TARGET ${production}
                     FORBID_MATCHING "(_testing$|^shoal_test_main$|^GTest::)"
                     WHY "test helpers are not production code")
endforeach()
