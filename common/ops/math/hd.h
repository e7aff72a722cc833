// BRAID_HD marks the single-source math of common/ops/math/ as
// `__host__ __device__` under nvcc and as plain functions elsewhere, so the
// CPU kernels and tests run exactly the arithmetic the CUDA kernels run.
#pragma once

#if defined(__CUDACC__)
#define BRAID_HD __host__ __device__
#else
#define BRAID_HD
#endif
