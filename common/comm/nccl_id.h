// The pure half of the NCCL bootstrap (docs/NCCL.md), testable without CUDA
// or NCCL: how an ncclUniqueId travels through the rendezvous KvStore (hex
// text under "<prefix>nccl/world"), and which split colour and key each rank
// of the job-wide world passes to ncclCommSplit to get its DP, TP and
// model-parallel groups (the same groups, with the same ranks inside them,
// as the Gloo groups of docs/PARALLELISM.md).
//
// The job-wide world: every rank of every module, modules in a fixed order
// (encoder, llm, generator), each module a contiguous block of global ranks:
//
//   global rank = (ranks of the modules before it) + module rank
//
// where the module rank is common/parallel's (stage * dp + replica) * tp + tp_index.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/status.h"
#include "common/parallel/layout.h"

namespace braid::comm {

// Size of an ncclUniqueId (NCCL_UNIQUE_ID_BYTES; nccl_comm.cc checks they agree).
inline constexpr size_t kNcclUniqueIdBytes = 128;
using NcclUniqueIdBytes = std::array<uint8_t, kNcclUniqueIdBytes>;

// NCCL_SPLIT_NOCOLOR: the rank takes part in the split but joins no group.
inline constexpr int kNcclNoColor = -1;

// 256 lowercase hex digits, two per byte, in byte order.
std::string EncodeNcclUniqueId(const NcclUniqueIdBytes& id);
// The inverse: exactly 256 hex digits (either case), nothing else.
// InvalidArgument naming `what` (e.g. the key it was read from), the length
// or the first bad character's position otherwise.
StatusOr<NcclUniqueIdBytes> DecodeNcclUniqueId(std::string_view text, std::string_view what = "nccl unique id");

// The key rank 0 publishes the world's id under: "<prefix>nccl/world"
// (prefix: the attempt's rendezvous prefix, ending in '/'; a new attempt has
// a new prefix, so a stale id is never read).
std::string NcclWorldKey(const std::string& prefix);

// One module of the job's world.
struct NcclModule {
  std::string role;  // "encoder", "llm", "generator": names the groups in messages
  parallel::Layout layout;
};

// Where a global rank sits.
struct NcclPlace {
  int module = 0;       // index into the module list
  int module_rank = 0;  // rank inside the module (common/parallel)
  int first_global = 0; // global rank of the module's rank 0
};

// The number of ranks of the job's world (sum of the modules' worlds).
int NcclWorldSize(const std::vector<NcclModule>& modules);
// InvalidArgument if a layout is invalid or `global_rank` is outside the world.
StatusOr<NcclPlace> NcclPlaceOf(const std::vector<NcclModule>& modules, int global_rank);
int NcclGlobalRank(const std::vector<NcclModule>& modules, int module, int module_rank);

// The arguments of one ncclCommSplit call and the group it makes.
struct NcclSplit {
  int color = kNcclNoColor;  // the global rank of the group's first member (unique per group)
  int key = 0;               // this rank's position in the group = its rank in the split
                             // communicator = its rank in the matching Gloo group
  std::string name;          // "<role>/dp-t<t>-p<s>", "<role>/tp-d<d>-p<s>", "<role>/mp-d<d>"
};

// The three splits every rank makes, in this order, on the world
// communicator (each ncclCommSplit is collective over the whole world):
//   dp: same module, stage and TP index (the gradient all-reduce);
//   tp: same module, stage and replica;
//   mp: same module and replica, every stage and TP index (gradient norm,
//       checkpoints); with pp == 1 it has the TP group's members, as the
//       worker's model-parallel Gloo group does.
// Every group is made even when it has one member, so every rank makes the
// same three calls.
struct NcclSplits {
  NcclSplit dp, tp, mp;
};
StatusOr<NcclSplits> NcclSplitsOf(const std::vector<NcclModule>& modules, int global_rank);

}  // namespace braid::comm
