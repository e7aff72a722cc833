// An in-process implementation of the runtime's transports: every rank of
// every module is a thread of one process, boundary messages go through a
// shared mailbox and DP all-reduces through shared buffers. It runs the real
// module runners and schedules without sockets, which makes the distributed
// step testable (and debuggable) in one process.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "common/worker/transport.h"

namespace braid::worker {

class InProcFabric {
 public:
  InProcFabric(int encoder_dp, int llm_dp, int generator_dp, double timeout_seconds = 60);
  ~InProcFabric();
  // Each (role, rank) gets one transport and one DP group; owned by the fabric.
  BoundaryTransport* transport(Role role, int rank);
  DpGroup* dp_group(Role role, int rank);

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
  std::vector<std::shared_ptr<GroupShared>> shared_;                 // [role]
  std::vector<std::vector<std::unique_ptr<Group>>> groups_;          // [role][rank]
};

}  // namespace braid::worker
