braid_test(safetensors_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/safetensors_test.cc LIBS braid_checkpoint)
braid_test(checkpoint_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/checkpoint_test.cc LIBS braid_checkpoint)
