# GPU benchmarks (docs/GPU.md, step 9), built only with the CUDA backend.
# gpu_gemm_ceiling: the cuBLASLt GEMM ceiling (TFLOP/s) of this GPU; with no
# device it prints "SKIPPED: <why>" and exits 77.
if(BRAID_CUDA_ENABLED)
  add_executable(gpu_gemm_ceiling ${CMAKE_CURRENT_LIST_DIR}/gpu_gemm_ceiling.cc)
  target_link_libraries(gpu_gemm_ceiling PRIVATE braid_ops_cuda braid_gpu)
endif()
