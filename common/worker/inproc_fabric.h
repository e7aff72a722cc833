// An in-process implementation of the runtime's transports: every rank of
// every module is a thread of one process, boundary messages go through a
// shared mailbox and DP all-reduces through shared buffers. It runs the real
// module runners and schedules without sockets, which makes the distributed
// step testable (and debuggable) in one process.
#pragma once

#include <condition_variable>
#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "common/parallel/layout.h"
#include "common/worker/transport.h"

namespace braid::worker {

class InProcFabric {
 public:
  InProcFabric(int encoder_dp, int llm_dp, int generator_dp, double timeout_seconds = 60);
  // Any layouts (indexed by Role): ranks are module ranks (common/parallel/layout.h).
  InProcFabric(const std::array<parallel::Layout, kNumRoles>& layouts, double timeout_seconds = 60);
  ~InProcFabric();
  // Each (role, module rank) gets one transport, one DP group and one TP
  // group (of one when the module's tp is 1); owned by the fabric.
  BoundaryTransport* transport(Role role, int rank);
  DpGroup* dp_group(Role role, int rank);
  DpGroup* tp_group(Role role, int rank);
  DpGroup* mp_group(Role role, int rank);  // the replica's TP x PP ranks

  // Mailbox operations (used by the transports).
  void Put(Role dst_role, int dst_rank, Role src_role, int src_rank, const BoundaryKey& key, Message m);
  StatusOr<Message> Take(Role dst_role, int dst_rank, Role src_role, int src_rank, const BoundaryKey& key);

 private:
  using Key = std::tuple<int, int, int, int, uint32_t, int64_t, int32_t, uint32_t>;
  class Transport;
  class Group;
  struct GroupShared;
  double timeout_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<Key, Message> mailbox_;
  std::vector<std::vector<std::unique_ptr<Transport>>> transports_;  // [role][rank]
  std::vector<std::vector<std::unique_ptr<Group>>> groups_;          // [role][rank]: DP
  std::vector<std::vector<std::unique_ptr<Group>>> tp_groups_;       // [role][rank]: TP
  std::vector<std::vector<std::unique_ptr<Group>>> mp_groups_;       // [role][rank]: model-parallel
};

}  // namespace braid::worker
