// The DP gradient all-reduce and the TP sums of CUDA ranks over NCCL
// (docs/NCCL.md, "DP all-reduce in the runtime (as built)", "TP sums"), and
// the group setup they and the boundaries share. Built with the CUDA backend only
// (library braid_worker_cuda); this header needs no CUDA headers.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/comm/kv_store.h"
#include "common/parallel/tp_comm.h"
#include "common/worker/dp_allreduce_choice.h"
#include "common/worker/grad_allreduce.h"
#include "common/worker/rank_device.h"

namespace braid::comm {
class NcclComm;  // common/comm/nccl_comm.h (CUDA headers)
}  // namespace braid::comm

namespace braid::worker {

// Cancel or a failing rank: aborts `c` (its peers fail instead of waiting);
// a failed abort is logged. Any thread.
void AbortNcclComm(comm::NcclComm& c);

// The device's UUID as 32 hex digits: unique across hosts, unlike indices
// or PCI bus ids (what the ranks compare to find a shared GPU).
StatusOr<std::string> CudaDeviceUuid(int device);

// The setup every NCCL use of the runtime shares (docs/NCCL.md, "Setup"):
// a collective over a group's ranks on `kv`. They exchange their device ids
// and switches under `prefix`, choose alike (NCCL when all are on distinct
// CUDA devices and none has env=host_word), create one communicator per
// entry of `worlds` (ids under prefix + the entry) and agree on the outcome
// (all ranks take NCCL or none does). Returns the communicators, or none on
// every rank alike (the host path, logged naming why). Errors: the store's;
// FailedPrecondition when this rank's switch is nccl and NCCL cannot be
// used.
struct NcclWorldsSetUp {
  std::string prefix;               // the group's store prefix, ends in '/'
  std::vector<std::string> worlds;  // sub-prefixes, one communicator each ("" = the group's own)
  int rank = 0, size = 1;
  DpAllReduceMode mode = DpAllReduceMode::kAuto;  // this rank's switch
  const char* env = kDpAllReduceEnv;              // the switch's variable, and its host value
  const char* host_word = "gloo";
  std::string what, who;  // messages: "dp all-reduce of <who>: ..."
  double timeout_seconds = 60;
};
StatusOr<std::vector<std::unique_ptr<comm::NcclComm>>> SetUpNcclWorlds(comm::KvStore& kv, RankDevice& device,
                                                                       const NcclWorldsSetUp& setup);

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
