# The DP gradient all-reduce of CUDA ranks over NCCL in the in-process
# runtime (docs/NCCL.md): the Gloo fallback on one GPU; the NCCL path, which
# needs each DP group on distinct GPUs, as its own entry (2+ devices).
if(TARGET braid_worker_cuda)
  braid_gpu_test(gpu_nccl_runtime_test
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/gpu/nccl_runtime_test.cc
    LIBS braid_worker_cuda braid_train braid_checkpoint
    FILTER "-*OnDistinctGpus*")
  braid_gpu_test_part(gpu_nccl_runtime_distinct_test TARGET gpu_nccl_runtime_test FILTER "*OnDistinctGpus*"
    MIN_DEVICES 2)
endif()
