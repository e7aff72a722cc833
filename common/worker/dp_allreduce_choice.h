// How the ranks of one DP group agree on the path of their gradient
// all-reduce (docs/NCCL.md, "DP all-reduce in the runtime (as built)"): NCCL
// on the devices, or the host-staged Gloo fallback. The pure half, testable
// without CUDA: the BRAID_DP_ALLREDUCE switch, the rendezvous keys, each
// rank's record (its switch and its device's id), the choice every rank makes
// from the same records, and the agreement after the NCCL init (all ranks
// take NCCL or none does: a group split between the paths would hang).
//
// Keys (under the attempt's rendezvous prefix, as the Gloo groups' keys; a
// new attempt has a new prefix, so nothing stale is read):
//   nccl/<role>/<group>/member/<rank>   this rank's record
//   nccl/<role>/<group>/nccl/world      the NCCL id (NcclComm::CreateWorld)
//   nccl/<role>/<group>/outcome/<rank>  "ok" or the rank's init error
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/base/status.h"
#include "common/comm/kv_store.h"

namespace braid::worker {

// BRAID_DP_ALLREDUCE: "auto" (or unset/empty): NCCL where it can run, else
// the fallback; "gloo": the host-staged Gloo path (debugging); "nccl": NCCL
// or fail the rank (no fallback).
enum class DpAllReduceMode { kAuto, kGloo, kNccl };
inline constexpr const char* kDpAllReduceEnv = "BRAID_DP_ALLREDUCE";
const char* DpAllReduceModeName(DpAllReduceMode m);  // "auto", "gloo", "nccl"
// A switch `env` with the values auto (or empty), `host_word` (kGloo: the
// host path) and nccl; InvalidArgument naming the variable and the accepted
// values. NcclSwitchFromEnv reads the process's.
StatusOr<DpAllReduceMode> ParseNcclSwitch(std::string_view text, const char* env, const char* host_word);
StatusOr<DpAllReduceMode> NcclSwitchFromEnv(const char* env, const char* host_word);
// BRAID_DP_ALLREDUCE's (host_word "gloo").
StatusOr<DpAllReduceMode> ParseDpAllReduceMode(std::string_view text);
// The process's BRAID_DP_ALLREDUCE.
StatusOr<DpAllReduceMode> DpAllReduceModeFromEnv();

// "nccl/<role>/<group>/" (group: docs/PARALLELISM.md's "dp-t<t>-p<s>"),
// relative to the store's attempt prefix; ends in '/'.
std::string NcclDpGroupPrefix(std::string_view role, std::string_view group);
std::string DpMemberKey(const std::string& group_prefix, int rank);
std::string DpOutcomeKey(const std::string& group_prefix, int rank);

// What one rank tells its group before the choice.
struct DpMember {
  DpAllReduceMode mode = DpAllReduceMode::kAuto;
  std::string device_kind;  // RankDevice::kind(): "cuda", "guarded-fake"
  std::string device_id;    // a globally unique id of its device (the CUDA UUID, hex)
};
// "mode=<m>;kind=<k>;device=<id>" (no ';' or '=' inside the values).
std::string EncodeDpMember(const DpMember& m);
StatusOr<DpMember> DecodeDpMember(std::string_view text, std::string_view what = "dp member");

struct DpAllReduceChoice {
  bool nccl = false;
  std::string why;  // one line: why this path (for the log and errors)
};
// The same on every rank given the same records (members[r] = rank r's).
// NCCL only when the group has 2+ ranks, every one is on "cuda", none asked
// for gloo, and no two share a device (NCCL refuses two ranks of a
// communicator on one GPU).
DpAllReduceChoice ChooseDpAllReduce(const std::vector<DpMember>& members);

// Publishes `me` under DpMemberKey(prefix, rank) and reads every rank's
// record (timeout each). Errors: the store's, naming the key (a rank never
// published: did it die?), or a malformed record.
StatusOr<std::vector<DpMember>> ExchangeDpMembers(comm::KvStore& kv, const std::string& group_prefix, int rank,
                                                  int size, const DpMember& me, double timeout_seconds);

// After every rank tried the NCCL init: publishes "ok" or `mine`'s message
// under DpOutcomeKey, reads every rank's. nccl = true when all are "ok"; else
// why names the first failing rank and its error. Errors: the store's.
StatusOr<DpAllReduceChoice> AgreeOnNcclInit(comm::KvStore& kv, const std::string& group_prefix, int rank, int size,
                                            const Status& mine, double timeout_seconds);

}  // namespace braid::worker
