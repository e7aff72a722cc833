# The ViT and the DiT on the CUDA backend against the CPU.
braid_gpu_test(gpu_vit_dit_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/gpu/vit_dit_test.cc
  LIBS braid_nn braid_ops_cuda)
