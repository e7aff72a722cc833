# CUDA losses, AdamW and the gradient norm against the CPU ops and optimizer.
braid_gpu_test(gpu_ops_loss_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/gpu/ops_loss_test.cc
  LIBS braid_ops braid_ops_cuda)
braid_gpu_test(gpu_ops_adamw_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/gpu/ops_adamw_test.cc
  LIBS braid_optim braid_ops_cuda)
