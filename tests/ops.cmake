braid_test(ops_grad_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ops_grad_test.cc LIBS braid_ops)
braid_test(attention_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/attention_test.cc LIBS braid_ops)

# The single-source per-element math shared with the CUDA kernels (issue 9).
braid_test(ops_math_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ops_math_test.cc LIBS braid_base LABELS unit ops)
braid_test(ops_rows_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ops_rows_test.cc LIBS braid_ops LABELS unit ops)
