# /metrics keeps serving whatever static TLS the process carries: the HTTP
# side of common/metrics (metrics_http.h) and, where the CUDA backend is
# built, a process linking OpenBLAS + the CUDA runtime (+ cuBLASLt), whose
# static TLS overflowed civetweb's 100 KiB thread stacks. No GPU needed.
braid_test(metrics_http_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/metrics_http_test.cc
  LIBS braid_metrics braid_rpc
  LABELS observability)
if(BRAID_CUDA_ENABLED)
  braid_test(metrics_cudart_test
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/metrics_cuda_test.cc
    LIBS braid_metrics braid_rpc braid_gpu braid_ops
    LABELS observability)
  braid_test(metrics_cuda_test
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/metrics_cuda_test.cc
    LIBS braid_metrics braid_rpc braid_gpu braid_ops_cuda braid_ops
    LABELS observability)
endif()
