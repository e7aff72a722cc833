// Sharing one host's cores between braid's compute processes.
//
// The worker processes of a job on one machine (an encoder, an LLM and a
// generator worker on a 2-core box, say) each run their own OpenMP/BLAS
// thread team. Fixed team sizes either leave cores idle (one thread each: the
// LLM, the critical path, computes on one core while the other waits for
// work) or oversubscribe them (two threads each: teams preempt each other
// inside barrier-synchronised regions and everything slows down).
//
// HostCores lets them share instead. Every process joins a small table in
// shared memory (/dev/shm/braid-cores-<uid>, one slot per process) and
// publishes how many threads it is computing with right now (0 while it
// waits for data). A process in adaptive mode calls AdaptComputeThreads()
// before each large op (GEMMs, attention); it widens its team to the cores
// the others leave free and narrows it to one thread as soon as another
// process starts computing. Ops give the same results at any team size up to
// float rounding of BLAS blocking, so adaptivity changes speed, not training.
//
// Slots of processes that died are reclaimed (kill(pid, 0) fails); a dead
// process's busy mark is ignored. Without /dev/shm everything degrades to
// fixed thread counts.
#pragma once

#include <string>

#include "common/base/status.h"

namespace braid {

// Joins the host table. `max_threads` is the most threads this process will
// compute with; `adaptive` makes AdaptComputeThreads resize the team between
// 1 and max_threads. Call once, after SetComputeThreads(max_threads).
Status JoinHostCores(int max_threads, bool adaptive, const std::string& table_name = "");

// Publishes that this process starts computing or is idle. Starting, it
// first waits, at most 20 ms, until no other process computes with more than
// one thread (adaptive teams narrow at their next op when they see it
// waiting), then (adaptive) sizes its own team to the cores left. No-op
// before JoinHostCores.
void SetHostBusy(bool busy);

// The threads other live processes on this host are computing with now.
int OtherBusyThreads();

// In adaptive mode: sets the team size for the next ops to the cores the
// other processes leave free (at least 1, at most max_threads). No-op
// otherwise. Costs a scan of the table (64 slots) per call.
void AdaptComputeThreads();

// Called by the large ops (GEMMs, attention) before they start: adapts the
// team (above) and runs the process's op-boundary hook, if one is set, at
// most every 200 us. Workers set the hook to progress their transport, so
// boundary transfers move on while they compute.
void AtOpBoundary();
// Sets (or, with nullptr, clears) the hook. Not thread-safe against
// AtOpBoundary: set it before computing.
void SetOpBoundaryHook(void (*fn)(void*), void* arg);

// RAII: busy for the scope's lifetime (and adapts the team on entry).
class HostBusyScope {
 public:
  HostBusyScope() { SetHostBusy(true); }
  ~HostBusyScope() { SetHostBusy(false); }
  HostBusyScope(const HostBusyScope&) = delete;
  HostBusyScope& operator=(const HostBusyScope&) = delete;
};

}  // namespace braid
