braid_test(optim_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/optim_test.cc LIBS braid_optim)
