// OpenBLAS 0.3.21 (Debian 12) does not recognise recent Xeons and falls back
// to its generic SSE3 "Prescott" kernels: sgemm ran 5x slower here (65 vs
// 321 GFLOP/s, docs/PERFORMANCE.md). The kernel set is chosen when the
// library loads, from OPENBLAS_CORETYPE, so a binary that wants the right
// kernels must have it in its environment before it starts.
#pragma once

namespace braid {

// The OPENBLAS_CORETYPE this CPU supports best ("SkylakeX" with AVX-512,
// "Haswell" with AVX2, or "" to let OpenBLAS decide).
const char* PreferredOpenBlasCore();

// Call first thing in main(): when OPENBLAS_CORETYPE is unset and this CPU
// has a better kernel set than OpenBLAS would pick, sets it and re-executes
// the program (once; BRAID_BLAS_REEXEC guards the loop). Set
// OPENBLAS_CORETYPE yourself to opt out. Returns only when no re-exec happened.
void EnsureOpenBlasCore(char** argv);

// The kernel set OpenBLAS is using (e.g. "SkylakeX", "Prescott").
const char* OpenBlasCoreName();

}  // namespace braid
