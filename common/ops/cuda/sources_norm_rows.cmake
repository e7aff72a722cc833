# Norms, embedding, row ops and patchify (docs/GPU.md, step 4).
list(APPEND BRAID_OPS_CUDA_SOURCES norm.cu embedding.cu rows.cu patch.cu)
