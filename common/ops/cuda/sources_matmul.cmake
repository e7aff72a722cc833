# cuBLASLt GEMMs (matmul.h): the linear layer, the row-major GEMM and the
# cached cuBLASLt matmul they share (lt_matmul.h).
list(APPEND BRAID_OPS_CUDA_SOURCES matmul.cu lt_matmul.cc)
