# The distributed runtime on CUDA: in-process DP ranks each on a CUDA
# context, against the same layout on the CPU (bench/gpu_suite.sh runs it).
if(TARGET braid_worker_cuda)
  braid_gpu_test(gpu_runtime_equivalence_test
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/gpu/runtime_equivalence_test.cc
    LIBS braid_worker_cuda braid_train braid_checkpoint)
endif()
