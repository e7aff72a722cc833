# Losses (cross-entropy, vocabulary-parallel cross-entropy, MSE), AdamW and
# the gradient norm (docs/GPU.md, step 4).
list(APPEND BRAID_OPS_CUDA_SOURCES loss.cu adamw.cu)
