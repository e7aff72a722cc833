#include "common/base/blas_core.h"

#include <unistd.h>

#include <cstdlib>

extern "C" char* openblas_get_corename(void);

namespace braid {

const char* PreferredOpenBlasCore() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
  return "";
}

void EnsureOpenBlasCore(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr || std::getenv("BRAID_BLAS_REEXEC") != nullptr) return;
  const char* core = PreferredOpenBlasCore();
  if (core[0] == '\0') return;
  setenv("OPENBLAS_CORETYPE", core, 1);
  setenv("BRAID_BLAS_REEXEC", "1", 1);
  execv("/proc/self/exe", argv);
  // execv failed (no /proc?): carry on with whatever OpenBLAS picked.
}

const char* OpenBlasCoreName() { return openblas_get_corename(); }

}  // namespace braid
