# NCCL communicators (docs/NCCL.md): ranks as threads, one device each; the
# world-size-1 and timeout cases need one GPU, the rest two or more.
braid_gpu_test(gpu_nccl_comm_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/gpu/nccl_comm_test.cc
  LIBS braid_comm_nccl braid_comm_gloo braid_ops_cuda)
