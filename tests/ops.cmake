braid_test(ops_grad_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ops_grad_test.cc LIBS braid_ops)
braid_test(attention_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/attention_test.cc LIBS braid_ops)
