#include "common/worker/dp_allreduce_choice.h"

#include <cstdlib>

namespace braid::worker {
namespace {

constexpr std::string_view kOk = "ok";

std::vector<uint8_t> Bytes(std::string_view s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// Reads `key`, naming it and the rank when the store fails (a dead rank).
StatusOr<std::string> Read(comm::KvStore& kv, const std::string& key, int rank, double timeout_seconds) {
  StatusOr<std::vector<uint8_t>> v = kv.Get(key, timeout_seconds);
  if (!v.ok()) {
    return Status(v.status().code(), "dp all-reduce setup: nothing from rank " + std::to_string(rank) +
                                          " under key '" + key + "' (did it die?): " + v.status().message());
  }
  return std::string(v->begin(), v->end());
}

}  // namespace

const char* DpAllReduceModeName(DpAllReduceMode m) {
  switch (m) {
    case DpAllReduceMode::kAuto: return "auto";
    case DpAllReduceMode::kGloo: return "gloo";
    case DpAllReduceMode::kNccl: return "nccl";
  }
  return "?";
}

StatusOr<DpAllReduceMode> ParseNcclSwitch(std::string_view text, const char* env, const char* host_word) {
  if (text.empty() || text == "auto") return DpAllReduceMode::kAuto;
  if (text == host_word) return DpAllReduceMode::kGloo;
  if (text == "nccl") return DpAllReduceMode::kNccl;
  return Status::InvalidArgument(std::string(env) + "='" + std::string(text) + "': expected auto, " + host_word +
                                 " or nccl");
}

StatusOr<DpAllReduceMode> NcclSwitchFromEnv(const char* env, const char* host_word) {
  const char* v = std::getenv(env);
  return ParseNcclSwitch(v == nullptr ? "" : v, env, host_word);
}

StatusOr<DpAllReduceMode> ParseDpAllReduceMode(std::string_view text) {
  return ParseNcclSwitch(text, kDpAllReduceEnv, "gloo");
}

StatusOr<DpAllReduceMode> DpAllReduceModeFromEnv() { return NcclSwitchFromEnv(kDpAllReduceEnv, "gloo"); }

std::string NcclDpGroupPrefix(std::string_view role, std::string_view group) {
  return "nccl/" + std::string(role) + "/" + std::string(group) + "/";
}
std::string DpMemberKey(const std::string& group_prefix, int rank) {
  return group_prefix + "member/" + std::to_string(rank);
}
std::string DpOutcomeKey(const std::string& group_prefix, int rank) {
  return group_prefix + "outcome/" + std::to_string(rank);
}

std::string EncodeDpMember(const DpMember& m) {
  return std::string("mode=") + DpAllReduceModeName(m.mode) + ";kind=" + m.device_kind + ";device=" + m.device_id;
}

StatusOr<DpMember> DecodeDpMember(std::string_view text, std::string_view what) {
  const auto bad = [&](const std::string& why) {
    return Status::InvalidArgument(std::string(what) + ": '" + std::string(text) + "': " + why);
  };
  DpMember m;
  const std::string_view names[3] = {"mode=", "kind=", "device="};
  std::string_view rest = text;
  for (int i = 0; i < 3; ++i) {
    if (rest.substr(0, names[i].size()) != names[i]) return bad("expected '" + std::string(names[i]) + "'");
    rest.remove_prefix(names[i].size());
    const size_t end = i < 2 ? rest.find(';') : rest.size();
    if (end == std::string_view::npos) return bad("missing ';' after " + std::string(names[i]));
    const std::string_view value = rest.substr(0, end);
    if (value.find('=') != std::string_view::npos || value.find(';') != std::string_view::npos)
      return bad("stray '=' or ';' in " + std::string(names[i]));
    rest.remove_prefix(i < 2 ? end + 1 : end);
    if (i == 0) {
      if (value.empty()) return bad("empty mode");
      ASSIGN_OR_RETURN(m.mode, ParseDpAllReduceMode(value));
    } else if (i == 1) {
      m.device_kind = std::string(value);
    } else {
      m.device_id = std::string(value);
    }
  }
  return m;
}

DpAllReduceChoice ChooseDpAllReduce(const std::vector<DpMember>& members) {
  if (members.size() < 2) return {false, "a DP group of " + std::to_string(members.size()) + " has nothing to sum"};
  for (size_t r = 0; r < members.size(); ++r) {
    if (members[r].device_kind != "cuda")
      return {false, "rank " + std::to_string(r) + " is on device '" + members[r].device_kind + "', not cuda"};
  }
  for (size_t r = 0; r < members.size(); ++r) {
    if (members[r].mode == DpAllReduceMode::kGloo)
      return {false, "rank " + std::to_string(r) + " has " + kDpAllReduceEnv + "=gloo"};
  }
  for (size_t r = 0; r < members.size(); ++r) {
    if (members[r].device_id.empty()) return {false, "rank " + std::to_string(r) + " did not name its device"};
    for (size_t q = 0; q < r; ++q) {
      if (members[q].device_id == members[r].device_id)
        return {false, "ranks " + std::to_string(q) + " and " + std::to_string(r) + " share cuda device " +
                           members[r].device_id + " (NCCL needs one device per rank)"};
    }
  }
  return {true, std::to_string(members.size()) + " ranks on distinct cuda devices"};
}

StatusOr<std::vector<DpMember>> ExchangeDpMembers(comm::KvStore& kv, const std::string& group_prefix, int rank,
                                                  int size, const DpMember& me, double timeout_seconds) {
  if (size < 1 || rank < 0 || rank >= size)
    return Status::InvalidArgument("dp all-reduce setup: no rank " + std::to_string(rank) + " in a group of " +
                                   std::to_string(size));
  RETURN_IF_ERROR(kv.Set(DpMemberKey(group_prefix, rank), Bytes(EncodeDpMember(me))));
  std::vector<DpMember> all(static_cast<size_t>(size));
  for (int r = 0; r < size; ++r) {
    const std::string key = DpMemberKey(group_prefix, r);
    ASSIGN_OR_RETURN(const std::string text, Read(kv, key, r, timeout_seconds));
    ASSIGN_OR_RETURN(all[size_t(r)], DecodeDpMember(text, "record under key '" + key + "'"));
  }
  return all;
}

StatusOr<DpAllReduceChoice> AgreeOnNcclInit(comm::KvStore& kv, const std::string& group_prefix, int rank, int size,
                                            const Status& mine, double timeout_seconds) {
  if (size < 1 || rank < 0 || rank >= size)
    return Status::InvalidArgument("dp all-reduce setup: no rank " + std::to_string(rank) + " in a group of " +
                                   std::to_string(size));
  // A failure is never the bare "ok" (its text starts with the status code).
  const std::string text = mine.ok() ? std::string(kOk) : mine.ToString();
  RETURN_IF_ERROR(kv.Set(DpOutcomeKey(group_prefix, rank), Bytes(text)));
  DpAllReduceChoice choice{true, "NCCL came up on all " + std::to_string(size) + " ranks"};
  for (int r = 0; r < size; ++r) {
    ASSIGN_OR_RETURN(const std::string outcome, Read(kv, DpOutcomeKey(group_prefix, r), r, timeout_seconds));
    if (outcome != kOk && choice.nccl) choice = {false, "NCCL init failed on rank " + std::to_string(r) + ": " + outcome};
  }
  return choice;
}

}  // namespace braid::worker
