// One owner for the cores of a process: OpenBLAS (OpenMP build) and braid's
// own OpenMP loops share the same pool, sized once here.
#pragma once

namespace braid {
// Sets the OpenMP and OpenBLAS thread counts; n <= 0 means "all cores".
void SetComputeThreads(int n);
int ComputeThreads();
}  // namespace braid
