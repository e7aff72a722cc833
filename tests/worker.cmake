# The worker runtime: module runners over the in-process fabric, checked
# against the single-process trainer.
braid_test(worker_inproc_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/worker_inproc_test.cc
           LIBS braid_worker braid_train braid_checkpoint LABELS worker)

# Real processes: `braid run` on several layouts against `braid train
# --single-process` (one ctest: the layouts share the reference run).
if(TARGET braid)
  add_executable(runtime_equivalence_test ${CMAKE_CURRENT_SOURCE_DIR}/runtime_equivalence_test.cc)
  target_link_libraries(runtime_equivalence_test PRIVATE braid_nn braid_checkpoint braid_config
    GTest::gtest GTest::gtest_main)
  target_compile_definitions(runtime_equivalence_test PRIVATE BRAID_BIN="$<TARGET_FILE:braid>")
  add_dependencies(runtime_equivalence_test braid braid-orchestrator braid-reorderer braid-encoder-worker
    braid-llm-worker braid-generator-worker)
  add_test(NAME runtime_equivalence_test COMMAND runtime_equivalence_test WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(runtime_equivalence_test PROPERTIES LABELS "integration;runtime" TIMEOUT 600)
endif()
