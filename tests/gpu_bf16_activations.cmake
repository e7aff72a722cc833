# bf16 activation storage (backend.h, Bf16ActivationOps): the CUDA table
# (cuda_backend.h, CudaBf16ActivationOps) against its CPU reference
# (common/ops/cpu/bf16_activations.h), and its place in the autocast table.
braid_gpu_test(gpu_bf16_activations_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/gpu/bf16_activations_test.cc
  LIBS braid_ops braid_ops_cuda)
