# Single-process trainer tests (common/train, `braid train`).

# Analytic vs finite-difference gradients of the wired three-module model.
braid_test(train_model_grad_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/train_model_grad_test.cc
  LIBS braid_train braid_test_guarded_device
  LABELS train)

# Determinism, run-directory layout and resume of the real `braid train`
# binary on tests/data/jobs/tiny.yaml (~20 s on 2 cores). One ctest: the
# cases share reference runs.
if(TARGET braid)
  add_executable(train_determinism_test ${CMAKE_CURRENT_SOURCE_DIR}/train_determinism_test.cc)
  target_link_libraries(train_determinism_test PRIVATE nlohmann_json::nlohmann_json GTest::gtest GTest::gtest_main)
  target_compile_definitions(train_determinism_test PRIVATE BRAID_BIN="$<TARGET_FILE:braid>")
  add_dependencies(train_determinism_test braid)
  add_test(NAME train_determinism_test COMMAND train_determinism_test
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(train_determinism_test PROPERTIES LABELS "integration;train" TIMEOUT 300)
endif()

# Training on a user JSONL manifest (examples/manifest/).
add_test(NAME manifest_job_test COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/manifest_job_test.sh $<TARGET_FILE:braid>
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(manifest_job_test PROPERTIES LABELS "integration;train" TIMEOUT 300)

# The trainer on the guarded fake device (docs/GPU.md step 3).
braid_test(train_device_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/train_device_test.cc
  LIBS braid_train braid_test_guarded_device LABELS train)
