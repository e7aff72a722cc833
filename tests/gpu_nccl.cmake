# NCCL communicators (docs/NCCL.md): ranks as threads, one device each. The
# world-of-one and failure cases need one GPU; the multi-rank cases 2+ and
# the job splits 4 (NCCL cannot put two ranks of one communicator on one
# device), as their own ctest entries that skip on smaller machines.
braid_gpu_test(gpu_nccl_comm_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/gpu/nccl_comm_test.cc
  LIBS braid_comm_nccl braid_comm_gloo braid_ops_cuda
  FILTER "-*MultiRank*:*FourRanks*")
braid_gpu_test_part(gpu_nccl_comm_multi_test TARGET gpu_nccl_comm_test FILTER "*MultiRank*" MIN_DEVICES 2)
braid_gpu_test_part(gpu_nccl_comm_four_test TARGET gpu_nccl_comm_test FILTER "*FourRanks*" MIN_DEVICES 4)
