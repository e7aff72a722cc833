# A real Prometheus scrapes `braid up` + a job through targets.json
# (tests/prometheus_integration_test.py; ~30 s on 2 cores).
if(TARGET braid)
  add_test(NAME prometheus_integration_test
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/prometheus_integration_test.py $<TARGET_FILE:braid>
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(prometheus_integration_test PROPERTIES LABELS "integration;observability" TIMEOUT 300)
endif()
