// The DP gradient all-reduce of CUDA ranks over NCCL (docs/NCCL.md, "DP
// all-reduce in the runtime (as built)"). Built with the CUDA backend only
// (library braid_worker_cuda); this header needs no CUDA headers.
#pragma once

#include <memory>
#include <string>

#include "common/base/status.h"
#include "common/comm/kv_store.h"
#include "common/parallel/tp_comm.h"
#include "common/worker/dp_allreduce_choice.h"
#include "common/worker/grad_allreduce.h"
#include "common/worker/rank_device.h"

namespace braid::worker {

// The device's UUID as 32 hex digits: unique across hosts, unlike indices
// or PCI bus ids (what the ranks compare to find a shared GPU).
StatusOr<std::string> CudaDeviceUuid(int device);

struct NcclDpGroup {
  std::string role;   // "encoder", "llm", "generator"
  std::string group;  // docs/PARALLELISM.md's "dp-t<t>-p<s>"
  int rank = 0;       // the rank's position in the group (its replica index)
  int size = 1;
  DpAllReduceMode mode = DpAllReduceMode::kAuto;  // this rank's BRAID_DP_ALLREDUCE
  double timeout_seconds = 60;  // each store read, and the NCCL init
};

// Collective over the DP group: every rank calls it once, after
// ModuleRunner::UseDevice, with `device` current on the calling thread, on
// `kv` (the attempt's store, keys under NcclDpGroupPrefix(role, group)).
// The ranks exchange their device ids and switches, choose alike
// (ChooseDpAllReduce), bring NCCL up (NcclComm::CreateWorld) and agree on
// the outcome (AgreeOnNcclInit). Returns the "nccl-device" strategy, or null
// on every rank of the group alike: take the host-staged Gloo fallback
// (logged with LOG_WARN naming why). Errors: the store's (a rank never came),
// FailedPrecondition when this rank asked for nccl (BRAID_DP_ALLREDUCE=nccl)
// and it cannot be used.
StatusOr<std::unique_ptr<GradAllReduce>> SetUpNcclGradAllReduce(comm::KvStore& kv, RankDevice& device,
                                                                const NcclDpGroup& group);

// The same for a TP group (group: "tp-d<d>-p<s>", rank: the TP index; the
// switch is BRAID_DP_ALLREDUCE too): the TP sums of the module math on the
// device over NCCL ("tp sums"), or null on every rank alike (host copies
// over the Gloo TP group).
StatusOr<std::unique_ptr<parallel::TpComm>> SetUpNcclTpComm(comm::KvStore& kv, RankDevice& device,
                                                            const NcclDpGroup& group);

}  // namespace braid::worker
