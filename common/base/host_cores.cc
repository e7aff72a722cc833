#include "common/base/host_cores.h"

#include "common/base/clock.h"

#include <fcntl.h>
#include <omp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

extern "C" void openblas_set_num_threads(int num_threads);

namespace braid {
namespace {

constexpr int kSlots = 64;

struct Slot {
  std::atomic<int32_t> pid;
  std::atomic<int32_t> busy_threads;  // threads computing now
  std::atomic<int32_t> want_threads;  // waiting to start computing with this many
};
static_assert(std::atomic<int32_t>::is_always_lock_free, "slots live in shared memory");

struct Table {
  Slot slots[kSlots];
};

struct State {
  Table* table = nullptr;
  int slot = -1;
  int max_threads = 1;
  int team = 1;  // current team size
  int cores = 1;
  bool adaptive = false;
  bool busy = false;
  double checked[kSlots] = {};  // when each slot's pid was last found alive
};
State g;

bool Alive(int32_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH); }

}  // namespace

Status JoinHostCores(int max_threads, bool adaptive, const std::string& table_name) {
  if (g.table != nullptr) return Status::Ok();
  const std::string name = table_name.empty() ? "/braid-cores-" + std::to_string(getuid()) : table_name;
  const int fd = shm_open(name.c_str(), O_RDWR | O_CREAT, 0600);
  if (fd < 0) return Status::Unavailable("host core table " + name + ": " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || (st.st_size < off_t(sizeof(Table)) && ftruncate(fd, sizeof(Table)) != 0)) {
    close(fd);
    return Status::Unavailable("host core table " + name + ": " + std::strerror(errno));
  }
  void* p = mmap(nullptr, sizeof(Table), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) return Status::Unavailable("host core table " + name + ": " + std::strerror(errno));
  auto* t = static_cast<Table*>(p);  // zero-filled when new; zero = free slot
  const int32_t me = getpid();
  int slot = -1;
  for (int i = 0; i < kSlots && slot < 0; ++i) {
    int32_t cur = t->slots[i].pid.load();
    if (cur == me || (cur != 0 && Alive(cur))) continue;
    if (t->slots[i].pid.compare_exchange_strong(cur, me)) slot = i;
  }
  if (slot < 0) {
    munmap(p, sizeof(Table));
    return Status::Unavailable("host core table " + name + ": all " + std::to_string(kSlots) +
                                     " slots in use");
  }
  t->slots[slot].busy_threads.store(0);
  t->slots[slot].want_threads.store(0);
  g.table = t;
  g.slot = slot;
  g.max_threads = std::max(1, max_threads);
  g.team = g.max_threads;
  g.cores = std::max(1, int(std::thread::hardware_concurrency()));
  g.adaptive = adaptive && g.max_threads > 1;
  return Status::Ok();
}

namespace {

struct Others {
  int busy = 0;   // threads the other processes compute with
  int extra = 0;  // of those, threads beyond one per process (an adaptive team's widening)
  int want = 0;   // threads other processes wait to start with
};

Others ScanOthers() {
  Others o;
  if (g.table == nullptr) return o;
  const double now = NowSeconds();
  for (int i = 0; i < kSlots; ++i) {
    if (i == g.slot) continue;
    Slot& s = g.table->slots[i];
    const int32_t b = s.busy_threads.load(std::memory_order_relaxed);
    const int32_t w = s.want_threads.load(std::memory_order_relaxed);
    if (b <= 0 && w <= 0) continue;
    if (now - g.checked[i] >= 0.5) {
      const int32_t pid = s.pid.load(std::memory_order_relaxed);
      if (!Alive(pid)) {  // died while computing: free its slot
        int32_t expect = pid;
        if (s.pid.compare_exchange_strong(expect, 0)) {
          s.busy_threads.store(0);
          s.want_threads.store(0);
        }
        continue;
      }
      g.checked[i] = now;
    }
    o.busy += std::max(0, b);
    o.extra += std::max(0, b - 1);
    o.want += std::max(0, w);
  }
  return o;
}

void Publish(int busy, int want) {
  g.table->slots[g.slot].busy_threads.store(busy, std::memory_order_relaxed);
  g.table->slots[g.slot].want_threads.store(want, std::memory_order_relaxed);
}

}  // namespace

void SetHostBusy(bool busy) {
  if (g.table == nullptr) return;
  g.busy = busy;
  if (!busy) {
    Publish(0, 0);
    return;
  }
  // Wait (briefly) for adaptive teams to hand back the cores they widened
  // onto while this process was idle: they see the request and narrow at
  // their next op, within a millisecond or two. The cap keeps a peer that
  // never narrows from stalling anyone.
  Publish(0, 1);
  const double deadline = NowSeconds() + 0.02;
  while (ScanOthers().extra > 0 && NowSeconds() < deadline) std::this_thread::sleep_for(std::chrono::microseconds(50));
  AdaptComputeThreads();  // an adaptive team starts as wide as the others allow
  Publish(g.team, 0);
}

int OtherBusyThreads() { return ScanOthers().busy; }

namespace {
void (*g_hook)(void*) = nullptr;
void* g_hook_arg = nullptr;
double g_hook_last = 0;
}  // namespace

void SetOpBoundaryHook(void (*fn)(void*), void* arg) {
  g_hook = fn;
  g_hook_arg = arg;
}

void AtOpBoundary() {
  AdaptComputeThreads();
  if (g_hook == nullptr || omp_in_parallel()) return;
  const double now = NowSeconds();
  if (now - g_hook_last < 200e-6) return;
  g_hook_last = now;
  g_hook(g_hook_arg);
}

void AdaptComputeThreads() {
  if (!g.adaptive) return;
  const Others o = ScanOthers();
  const int n = std::clamp(g.cores - o.busy - o.want, 1, g.max_threads);
  if (n == g.team) return;
  g.team = n;
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
  if (g.busy) g.table->slots[g.slot].busy_threads.store(n, std::memory_order_relaxed);
}

}  // namespace braid
