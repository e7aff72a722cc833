# Mixed precision, autocast style (docs/GPU.md step 5, "Mixed precision (as
# built)"): bf16 casts, the bf16 weight mirrors and the autocast op table
# (cuda_backend.h, Precision::kBf16Autocast); bf16 activation storage, the
# autocast table's bf16_activations (backend.h, Bf16ActivationOps).
list(APPEND BRAID_OPS_CUDA_SOURCES autocast_cast.cu autocast_ops.cc param_shadows.cc
  bf16_activation_kernels.cu bf16_activation_ops.cc)
