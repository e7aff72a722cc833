# The DP gradient all-reduce of CUDA ranks over NCCL in the in-process
# runtime (docs/NCCL.md): NCCL with 2+ GPUs, the Gloo fallback on one.
if(TARGET braid_worker_cuda)
  braid_gpu_test(gpu_nccl_runtime_test
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/gpu/nccl_runtime_test.cc
    LIBS braid_worker_cuda braid_train braid_checkpoint)
endif()
