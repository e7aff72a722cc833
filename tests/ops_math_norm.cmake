# The single-source RMSNorm/LayerNorm row math shared with the CUDA kernels (issue 9).
braid_test(ops_math_norm_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ops_math_norm_test.cc LIBS braid_ops LABELS ops)
