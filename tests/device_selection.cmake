# Device selection (docs/GPU.md step 7): `device` in the job spec and the
# pools file, the workers' --device/--device-index, the orchestrator's
# matching of jobs to workers of their device. CPU-only: a missing CUDA
# device is the case checked here. The gtest cases carry the prefix
# "device_selection_*." so that `ctest -R device` selects every one of them.
function(braid_device_selection_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
  gtest_discover_tests(${name} TEST_PREFIX "${name}." WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
    PROPERTIES TIMEOUT 600 DISCOVERY_TIMEOUT 60)
  set(labels_file ${CMAKE_CURRENT_BINARY_DIR}/${name}_labels.cmake)
  file(WRITE ${labels_file}
    "if(${name}_TESTS)\n"
    "  set_tests_properties(\${${name}_TESTS} PROPERTIES LABELS \"unit;device;${T_LABELS}\")\n"
    "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${labels_file})
endfunction()

braid_device_selection_test(device_selection_config_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/device_selection_config_test.cc ${CMAKE_SOURCE_DIR}/cli/pools_config.cc
  LIBS braid_config yaml-cpp
  LABELS config)
if(TARGET braid_orchestrator_grpc)
  braid_device_selection_test(device_selection_orchestrator_test
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/device_selection_orchestrator_test.cc
    LIBS braid_orchestrator_grpc
    LABELS orchestrator)
  target_compile_definitions(device_selection_orchestrator_test PRIVATE BRAID_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
endif()
if(TARGET braid AND TARGET braid-llm-worker)
  add_test(NAME device_selection_process_test
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/device_selection_test.sh $<TARGET_FILE:braid>
                   $<TARGET_FILE:braid-llm-worker>
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(device_selection_process_test PROPERTIES LABELS "integration;device;cli" TIMEOUT 180)
endif()
