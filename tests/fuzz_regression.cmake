# Replays the fuzz targets' inputs under the normal compiler (no libFuzzer):
# every file in tests/data/fuzz/<target>/ (crashes found by scripts/fuzz.sh,
# fixed since) and fuzz/corpus/<target>/ (the seeds) goes through the same
# LLVMFuzzerTestOneInput as the fuzzer's; a crash or a failed FUZZ_CHECK
# aborts the test. One executable per target (each defines that function);
# `ninja fuzz_regression` builds them all.
include(${CMAKE_SOURCE_DIR}/fuzz/targets.cmake)

add_custom_target(fuzz_regression)
foreach(name ${BRAID_FUZZ_TARGETS})
  if(name STREQUAL "rpc" AND NOT TARGET braid_orchestrator_grpc)
    continue()
  endif()
  add_executable(fuzz_replay_${name} ${BRAID_FUZZ_${name}_SOURCES} ${BRAID_FUZZ_DIR}/replay_main.cc)
  target_link_libraries(fuzz_replay_${name} PRIVATE ${BRAID_FUZZ_${name}_LIBS})
  add_dependencies(fuzz_regression fuzz_replay_${name})
  add_test(NAME fuzz_regression.${name}
    COMMAND fuzz_replay_${name} ${CMAKE_SOURCE_DIR}/tests/data/fuzz/${name} ${BRAID_FUZZ_DIR}/corpus/${name}
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(fuzz_regression.${name} PROPERTIES LABELS "unit;fuzz" TIMEOUT 300)
endforeach()
