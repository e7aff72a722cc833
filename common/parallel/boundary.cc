#include "common/parallel/boundary.h"

#include "common/base/check.h"

namespace braid::parallel {

int BoundarySource(const Layout& src, int src_dp, int src_stage, int receiver_tp) {
  BRAID_CHECK(receiver_tp >= 0);
  return RankOf(src, {src_dp, receiver_tp % src.tp, src_stage});
}

std::vector<int> BoundaryDestinations(const Layout& dst, int dst_dp, int dst_stage, int sender_tp_size,
                                      int sender_tp) {
  BRAID_CHECK(sender_tp >= 0 && sender_tp < sender_tp_size);
  std::vector<int> out;
  for (int r = sender_tp; r < dst.tp; r += sender_tp_size) out.push_back(RankOf(dst, {dst_dp, r, dst_stage}));
  return out;
}

}  // namespace braid::parallel
