braid_test(nn_device_llm_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/nn_device_llm_test.cc
  LIBS braid_nn braid_test_guarded_device LABELS nn)
