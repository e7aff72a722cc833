# CLI contract tests of the real `braid` binary: bad specs and data files,
# argument errors, --help, eval (tests/cli_test.sh; ~10 s on 2 cores).
if(TARGET braid)
  add_test(NAME cli_test
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli_test.sh $<TARGET_FILE:braid>
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(cli_test PROPERTIES LABELS "integration;cli" TIMEOUT 180)
endif()
braid_test(pools_config_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/pools_config_test.cc
           ${CMAKE_SOURCE_DIR}/cli/pools_config.cc LIBS braid_config yaml-cpp)
braid_test(cli_trace_export_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/cli_trace_export_test.cc
           ${CMAKE_SOURCE_DIR}/cli/trace_export.cc LIBS braid_base nlohmann_json::nlohmann_json)
