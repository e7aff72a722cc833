# The online softmax shared by the CPU and CUDA attention (common/ops/math/softmax.h).
braid_test(ops_math_softmax_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ops_math_softmax_test.cc LIBS braid_ops LABELS ops)
