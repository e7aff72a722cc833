#include "common/comm/nccl_id.h"

#include <algorithm>

namespace braid::comm {

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The split of `module_rank`'s group `members` (module ranks, increasing).
NcclSplit SplitOf(const std::vector<int>& members, int module_rank, int first_global, std::string name) {
  NcclSplit s;
  s.color = first_global + members.front();
  s.key = static_cast<int>(std::find(members.begin(), members.end(), module_rank) - members.begin());
  s.name = std::move(name);
  return s;
}

}  // namespace

std::string EncodeNcclUniqueId(const NcclUniqueIdBytes& id) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  text.reserve(2 * id.size());
  for (uint8_t b : id) {
    text.push_back(kDigits[b >> 4]);
    text.push_back(kDigits[b & 0xf]);
  }
  return text;
}

StatusOr<NcclUniqueIdBytes> DecodeNcclUniqueId(std::string_view text, std::string_view what) {
  if (text.size() != 2 * kNcclUniqueIdBytes) {
    return Status::InvalidArgument(std::string(what) + ": expected " + std::to_string(2 * kNcclUniqueIdBytes) +
                                   " hex digits, got " + std::to_string(text.size()) + " characters");
  }
  NcclUniqueIdBytes id{};
  for (size_t i = 0; i < text.size(); ++i) {
    const int v = HexValue(text[i]);
    if (v < 0) {
      const unsigned char c = static_cast<unsigned char>(text[i]);
      const std::string shown = (c >= 0x20 && c < 0x7f) ? "'" + std::string(1, text[i]) + "'"
                                                        : "byte " + std::to_string(static_cast<int>(c));
      return Status::InvalidArgument(std::string(what) + ": not a hex digit at position " + std::to_string(i) + ": " +
                                     shown);
    }
    id[i / 2] = static_cast<uint8_t>(i % 2 == 0 ? v << 4 : id[i / 2] | v);
  }
  return id;
}

std::string NcclWorldKey(const std::string& prefix) { return prefix + "nccl/world"; }

int NcclWorldSize(const std::vector<NcclModule>& modules) {
  int n = 0;
  for (const NcclModule& m : modules) n += m.layout.world();
  return n;
}

StatusOr<NcclPlace> NcclPlaceOf(const std::vector<NcclModule>& modules, int global_rank) {
  NcclPlace place;
  for (size_t i = 0; i < modules.size(); ++i) {
    RETURN_IF_ERROR(parallel::CheckLayout(modules[i].layout));
    const int n = modules[i].layout.world();
    if (global_rank >= place.first_global && global_rank < place.first_global + n) {
      place.module = static_cast<int>(i);
      place.module_rank = global_rank - place.first_global;
      return place;
    }
    place.first_global += n;
  }
  return Status::InvalidArgument("nccl world: global rank " + std::to_string(global_rank) + " outside [0, " +
                                 std::to_string(place.first_global) + ")");
}

int NcclGlobalRank(const std::vector<NcclModule>& modules, int module, int module_rank) {
  int first = 0;
  for (int i = 0; i < module; ++i) first += modules[i].layout.world();
  return first + module_rank;
}

StatusOr<NcclSplits> NcclSplitsOf(const std::vector<NcclModule>& modules, int global_rank) {
  ASSIGN_OR_RETURN(const NcclPlace place, NcclPlaceOf(modules, global_rank));
  const NcclModule& m = modules[place.module];
  const parallel::Layout& l = m.layout;
  const int r = place.module_rank;
  const parallel::Coord me = parallel::CoordOf(l, r);
  const std::string stage = "-p" + std::to_string(me.pp);
  NcclSplits s;
  s.dp = SplitOf(parallel::DpGroup(l, r), r, place.first_global, m.role + "/dp-t" + std::to_string(me.tp) + stage);
  s.tp = SplitOf(parallel::TpGroup(l, r), r, place.first_global, m.role + "/tp-d" + std::to_string(me.dp) + stage);
  s.mp = SplitOf(parallel::ModelParallelGroup(l, r), r, place.first_global, m.role + "/mp-d" + std::to_string(me.dp));
  return s;
}

}  // namespace braid::comm
