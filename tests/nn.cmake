braid_test(nn_diffusion_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/nn_diffusion_test.cc LIBS braid_nn LABELS nn)
