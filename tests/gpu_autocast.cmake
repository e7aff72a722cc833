# Mixed precision, autocast style (docs/GPU.md step 5): the autocast CUDA
# table's matmul, attention and AdamW ops, the bf16 weight mirrors, and the
# LLM under autocast against the CPU.
braid_gpu_test(gpu_autocast_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/gpu/autocast_test.cc
  LIBS braid_nn braid_ops braid_tensor braid_ops_cuda)
