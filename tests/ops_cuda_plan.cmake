# The CUDA kernels' tiling and partition arithmetic (common/ops/cuda/tile_plan.h),
# checked on the CPU: built and run with or without a CUDA toolkit.
braid_test(ops_cuda_plan_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ops_cuda_plan_test.cc LIBS braid_ops LABELS ops)
