# The pinned upload ring's bookkeeping (common/ops/cuda/staging_ring.h),
# checked on the CPU: built and run with or without a CUDA toolkit.
braid_test(ops_staging_ring_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ops_staging_ring_test.cc LIBS braid_base
  LABELS ops)
