# GPU benchmarks (docs/GPU.md, step 9), built only with the CUDA backend.
# gpu_gemm_ceiling: the cuBLASLt GEMM ceiling (TFLOP/s) of this GPU; with no
# device it prints "SKIPPED: <why>" and exits 77.
if(BRAID_CUDA_ENABLED)
  add_executable(gpu_gemm_ceiling ${CMAKE_CURRENT_LIST_DIR}/gpu_gemm_ceiling.cc)
  target_link_libraries(gpu_gemm_ceiling PRIVATE braid_ops_cuda braid_gpu)
endif()

# gpu_llm_step: the LLM's forward + backward on the CUDA backend (model FLOP
# rate; bench/gpu_suite.sh compares it with the GEMM ceiling).
if(BRAID_CUDA_ENABLED)
  add_executable(gpu_llm_step ${CMAKE_CURRENT_LIST_DIR}/gpu_llm_step.cc)
  target_link_libraries(gpu_llm_step PRIVATE braid_nn braid_config braid_ops_cuda braid_gpu)
endif()
