#include "common/base/threads.h"

#include <omp.h>

#include <atomic>
#include <thread>

extern "C" void openblas_set_num_threads(int num_threads);

namespace braid {
namespace {
// Atomic: threads of one process may each set their own OpenMP team size
// (worker_inproc_test does); a plain int raced (TSan, scripts/sanitize.sh).
std::atomic<int> g_threads{0};
}

void SetComputeThreads(int n) {
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  if (n <= 0) n = 1;
  g_threads.store(n, std::memory_order_relaxed);
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

int ComputeThreads() {
  const int n = g_threads.load(std::memory_order_relaxed);
  return n > 0 ? n : omp_get_max_threads();
}

}  // namespace braid
