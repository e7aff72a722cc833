# Mixed precision, autocast style (docs/GPU.md step 5, "Mixed precision (as
# built)"): bf16 casts, the bf16 weight mirrors and the autocast op table
# (cuda_backend.h, Precision::kBf16Autocast).
list(APPEND BRAID_OPS_CUDA_SOURCES autocast_cast.cu autocast_ops.cc param_shadows.cc)
