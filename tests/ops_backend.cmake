add_library(braid_test_guarded_device STATIC ${CMAKE_CURRENT_SOURCE_DIR}/support/guarded_device.cc)
target_link_libraries(braid_test_guarded_device PUBLIC braid_ops braid_optim)
braid_test(ops_backend_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ops_backend_test.cc
  LIBS braid_tensor braid_optim braid_test_guarded_device LABELS ops)
