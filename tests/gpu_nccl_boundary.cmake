# The boundary tensors of CUDA ranks over NCCL send/recv in the in-process
# runtime (docs/NCCL.md, "Boundaries on the device"): host copies on one
# GPU; the NCCL path, which needs every rank on its own GPU, as its own
# entry (3+ devices).
if(TARGET braid_worker_cuda)
  braid_gpu_test(gpu_nccl_boundary_test
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/gpu/nccl_boundary_test.cc
    LIBS braid_worker_cuda braid_train braid_checkpoint
    FILTER "-*OnDistinctGpus*")
  braid_gpu_test_part(gpu_nccl_boundary_distinct_test TARGET gpu_nccl_boundary_test FILTER "*OnDistinctGpus*"
    MIN_DEVICES 3)
endif()
