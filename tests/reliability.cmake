# Fault injection on a disaggregated job under `braid up`'s supervisor
# (tests/fault_injection_test.py, docs/RELIABILITY.md): one test per case,
# each 20-32 s on 2 cores (the demo model, 32 steps).
if(TARGET braid)
  foreach(case encoder llm llm_tp_pp generator reorderer checkpoint orchestrator resize)
    add_test(NAME fault_injection_${case}
             COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/fault_injection_test.py $<TARGET_FILE:braid> ${case}
             WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
    set_tests_properties(fault_injection_${case} PROPERTIES LABELS "integration;reliability" TIMEOUT 600)
  endforeach()
endif()
