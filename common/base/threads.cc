#include "common/base/threads.h"

#include <omp.h>

#include <thread>

extern "C" void openblas_set_num_threads(int num_threads);

namespace braid {
namespace {
int g_threads = 0;
}

void SetComputeThreads(int n) {
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  if (n <= 0) n = 1;
  g_threads = n;
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

int ComputeThreads() { return g_threads > 0 ? g_threads : omp_get_max_threads(); }

}  // namespace braid
