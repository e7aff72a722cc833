# The DiT's diffusion ops: timestep features, keyed noise, DDIM (docs/GPU.md).
list(APPEND BRAID_OPS_CUDA_SOURCES diffusion.cu)
