# Flash-style attention over packed variable-length sequences (docs/GPU.md, step 4).
list(APPEND BRAID_OPS_CUDA_SOURCES attention.cu)
