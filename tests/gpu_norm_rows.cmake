# CUDA norms, embedding, row ops and patchify against the CPU kernels.
braid_gpu_test(gpu_ops_norm_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/gpu/ops_norm_test.cc
  LIBS braid_ops braid_ops_cuda)
braid_gpu_test(gpu_ops_embedding_rows_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/gpu/ops_embedding_rows_test.cc
  LIBS braid_ops braid_ops_cuda)
