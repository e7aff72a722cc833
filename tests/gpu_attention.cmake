# CUDA attention against the CPU attention (label gpu; skipped without a device).
braid_gpu_test(gpu_ops_attention_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/gpu/ops_attention_test.cc
  LIBS braid_ops braid_ops_cuda)
