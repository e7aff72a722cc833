# cuBLASLt GEMMs (common/ops/cuda/matmul.h). The host logic (row-major ->
# column-major mapping, validation, alignment) is a CPU test, built in every
# configuration; the GEMMs themselves are a GPU test.
braid_test(ops_gemm_plan_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ops_gemm_plan_test.cc LIBS braid_ops LABELS ops)

braid_gpu_test(gpu_ops_matmul_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/gpu/ops_matmul_test.cc
  LIBS braid_ops braid_ops_cuda)
