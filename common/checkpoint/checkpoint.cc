#include "common/checkpoint/checkpoint.h"

#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "common/base/log.h"
#include "common/checkpoint/durable_file.h"
#include "common/checkpoint/safetensors.h"
#include "common/tensor/tensor.h"

namespace braid {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kManifest[] = "manifest.json";

bool ValidFileStem(const std::string& s) {
  if (s.empty() || s == "." || s == "..") return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
  });
}

std::string ParamsFile(const ModuleState& m) { return m.name + ".safetensors"; }
std::string OptimFile(const ModuleState& m) { return m.name + ".optim.safetensors"; }

std::string Hex8(uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof(buf), "%08x", v);
  return buf;
}

// "step-<digits>" -> the step; -1 for anything else (tmp dirs included).
int64_t StepOfDirName(const std::string& name) {
  if (name.rfind("step-", 0) != 0 || name.size() == 5 || name.size() > 5 + 18) return -1;
  int64_t step = 0;
  for (size_t i = 5; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return -1;
    step = step * 10 + (name[i] - '0');
  }
  return step;
}

// step-N dirs of `dir`, highest step first.
std::vector<std::pair<int64_t, fs::path>> ListStepDirs(const fs::path& dir) {
  std::vector<std::pair<int64_t, fs::path>> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const int64_t step = StepOfDirName(it->path().filename().string());
    if (step >= 0 && it->is_directory(ec)) out.emplace_back(step, it->path());
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  return out;
}

Status ValidateModules(const std::vector<ModuleState>& modules) {
  std::set<std::string> files;
  for (const ModuleState& m : modules) {
    if (!ValidFileStem(m.name)) return Status::InvalidArgument("checkpoint: bad module name '" + m.name + "'");
    if (m.params == nullptr || !m.params->allocated())
      return Status::InvalidArgument("checkpoint: module '" + m.name + "' has no allocated ParamBuffer");
    if (m.optim && m.optim->size() != m.params->size())
      return Status::InvalidArgument("checkpoint: module '" + m.name + "': optimizer size differs from params");
    if (!files.insert(ParamsFile(m)).second || (m.optim && !files.insert(OptimFile(m)).second))
      return Status::InvalidArgument("checkpoint: module '" + m.name + "' collides with another module's files");
  }
  return Status::Ok();
}

// Checkpoint files hold whole tensors: a tensor-parallel rank's slices must
// be gathered first (worker/tp_checkpoint.h).
Status CheckWholeTensors(const std::vector<ModuleState>& modules) {
  for (const ModuleState& m : modules)
    for (const ParamView& v : m.params->views())
      if (!v.shard.replicated())
        return Status::FailedPrecondition("checkpoint: module '" + m.name + "' tensor '" + v.name +
                                          "' is a tensor-parallel slice; gather the whole tensors first");
  return Status::Ok();
}

// crc32 and size of a file as written, by file name (the manifest's "files").
struct FileSum {
  uint32_t crc32 = 0;
  uint64_t bytes = 0;
};
using FileSums = std::map<std::string, FileSum>;

// Writes the module's files into `dir`; their sums go into `sums`.
Status WriteModuleFiles(const fs::path& dir, const ModuleState& m, FileSums* sums) {
  const ParamBuffer& pb = *m.params;
  // Device ranks: the values come to the host first (a checkpoint is the one
  // place, with reports, where a step waits for the device).
  const std::vector<float> host_params = pb.ParamsToHost();
  std::vector<NamedTensor> params;
  for (int i = 0; i < static_cast<int>(pb.views().size()); ++i)
    params.push_back({pb.view(i).name, pb.view(i).shape, host_params.data() + pb.view(i).offset});
  FileSum& ps = (*sums)[ParamsFile(m)];
  RETURN_IF_ERROR(
      WriteSafetensors((dir / ParamsFile(m)).string(), params, {{"module", m.name}}, &ps.crc32, &ps.bytes));
  if (m.optim == nullptr) return Status::Ok();

  std::vector<float> host_m, host_v;
  m.optim->MomentsToHost(&host_m, &host_v);
  std::vector<NamedTensor> moments;
  for (const ParamView& v : pb.views()) moments.push_back({"m." + v.name, v.shape, host_m.data() + v.offset});
  for (const ParamView& v : pb.views()) moments.push_back({"v." + v.name, v.shape, host_v.data() + v.offset});
  const std::map<std::string, std::string> meta = {{"module", m.name}, {"t", std::to_string(m.optim->t())}};
  FileSum& os = (*sums)[OptimFile(m)];
  return WriteSafetensors((dir / OptimFile(m)).string(), moments, meta, &os.crc32, &os.bytes);
}

// Removes step-*.tmp-<pid> / step-*.old-<pid> dirs whose process is gone.
void RemoveStaleTemps(const fs::path& dir) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    size_t at = name.rfind(".tmp-");
    if (at == std::string::npos) at = name.rfind(".old-");
    if (name.rfind("step-", 0) != 0 || at == std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::atoll(name.c_str() + at + 5));
    if (pid > 0 && pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH) {
      std::error_code rm;
      fs::remove_all(it->path(), rm);
    }
  }
}

struct ManifestFile {
  std::string name;
  uint32_t crc32 = 0;
  uint64_t bytes = 0;
};
struct Manifest {
  int64_t step = 0;
  std::vector<ManifestFile> files;
  json extra;
};

StatusOr<Manifest> ReadManifest(const fs::path& step_dir) {
  const std::string path = (step_dir / kManifest).string();
  ASSIGN_OR_RETURN(std::string text, ReadWholeFile(path));
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto bad = [&](const std::string& what) { return Status::DataLoss("checkpoint manifest " + path + ": " + what); };
  if (j.is_discarded() || !j.is_object()) return bad("bad JSON");
  if (!j.contains("format") || j["format"] != kCheckpointFormat)
    return bad(std::string("format is not ") + kCheckpointFormat);
  if (!j.contains("step") || !j["step"].is_number_integer()) return bad("no integer \"step\"");
  if (!j.contains("files") || !j["files"].is_object()) return bad("no \"files\" object");
  Manifest m;
  m.step = j["step"].get<int64_t>();
  m.extra = j.contains("extra") ? j["extra"] : json();
  for (const auto& [name, f] : j["files"].items()) {
    if (!ValidFileStem(name) || name == kManifest) return bad("bad file name '" + name + "'");
    if (!f.is_object() || !f.contains("crc32") || !f["crc32"].is_string() || !f.contains("bytes") ||
        !f["bytes"].is_number_unsigned())
      return bad("entry for " + name + " needs \"crc32\" (hex string) and \"bytes\"");
    const std::string hex = f["crc32"].get<std::string>();
    unsigned int crc = 0;
    int used = 0;
    if (hex.size() != 8 || std::sscanf(hex.c_str(), "%8x%n", &crc, &used) != 1 || used != 8)
      return bad("bad crc32 '" + hex + "' for " + name);
    m.files.push_back({name, crc, f["bytes"].get<uint64_t>()});
  }
  const int64_t dir_step = StepOfDirName(step_dir.filename().string());
  if (dir_step >= 0 && dir_step != m.step)
    return bad("step " + std::to_string(m.step) + " does not match the directory name");
  return m;
}

StatusOr<std::string> ReadVerifiedFile(const fs::path& step_dir, const ManifestFile& f) {
  const std::string path = (step_dir / f.name).string();
  StatusOr<std::string> bytes = ReadWholeFile(path);
  if (!bytes.ok()) {
    if (bytes.status().code() == StatusCode::kNotFound)
      return Status::DataLoss("checkpoint file " + path + " listed in the manifest is missing");
    return bytes.status();
  }
  if (bytes->size() != f.bytes)
    return Status::DataLoss("checkpoint file " + path + ": size " + std::to_string(bytes->size()) +
                            " bytes, manifest says " + std::to_string(f.bytes));
  const uint32_t crc = Crc32Of(bytes->data(), bytes->size());
  if (crc != f.crc32)
    return Status::DataLoss("checkpoint file " + path + ": checksum mismatch (crc32 " + Hex8(crc) +
                            ", manifest says " + Hex8(f.crc32) + ")");
  return std::move(bytes).value();
}

// Checks that `file` holds exactly prefix+view.name for every view, shapes equal.
Status MatchViews(const SafetensorsFile& file, const std::string& path, const ParamBuffer& pb,
                  const std::vector<std::string>& prefixes, bool subset) {
  for (const std::string& prefix : prefixes) {
    for (const ParamView& v : pb.views()) {
      const std::string name = prefix + v.name;
      auto it = file.tensors.find(name);
      if (it == file.tensors.end())
        return Status::NotFound("checkpoint file " + path + " has no tensor '" + name + "'");
      // Files hold whole tensors; a tensor-parallel rank takes its slice.
      if (it->second.shape != v.full_shape)
        return Status::InvalidArgument("checkpoint file " + path + ": tensor '" + name + "' has shape " +
                                       ShapeString(it->second.shape) + ", the model wants " +
                                       ShapeString(v.full_shape));
    }
  }
  if (!subset && file.tensors.size() != pb.views().size() * prefixes.size()) {
    for (const auto& [name, t] : file.tensors) {
      bool known = false;
      for (const std::string& prefix : prefixes)
        known = known || (name.rfind(prefix, 0) == 0 && pb.Find(name.substr(prefix.size())) >= 0);
      if (!known)
        return Status::InvalidArgument("checkpoint file " + path + " has unexpected tensor '" + name + "'");
    }
  }
  return Status::Ok();
}

// Non-negative decimal metadata value, or -1.
int64_t ParseStepCount(const std::map<std::string, std::string>& meta, const std::string& key) {
  auto it = meta.find(key);
  if (it == meta.end() || it->second.empty() || it->second.size() > 18) return -1;
  int64_t v = 0;
  for (char c : it->second) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

void CopyInto(const SafetensorsFile& file, const std::string& prefix, const ParamBuffer& pb, float* dst) {
  for (const ParamView& v : pb.views()) {
    const std::vector<float>& src = file.tensors.at(prefix + v.name).data;
    parallel::ExtractShard(src.data(), v.full_shape, v.shard, dst + v.offset);
  }
}

// The one way a step dir comes to be: every file already in `tmp` is
// listed in manifest.json with its crc32 and size (from `known`, which the
// writer filled, else read back and checksummed), the dir is fsynced and
// renamed to step-<step> (replacing an existing one), then old steps are
// pruned to `keep` and stale temporary dirs of dead processes are removed.
// On error `tmp` is removed.
Status FinalizeTmpDir(const fs::path& root, const fs::path& tmp, int64_t step, const json& extra, int keep,
                      const FileSums& known) {
  const fs::path final_dir = root / ("step-" + std::to_string(step));
  const fs::path old = root / ("step-" + std::to_string(step) + ".old-" + std::to_string(::getpid()));
  auto finalize = [&]() -> Status {
    json files = json::object();
    std::error_code ec;
    for (fs::directory_iterator it(tmp, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name == kManifest) continue;
      if (!it->is_regular_file(ec) || !ValidFileStem(name))
        return Status::InvalidArgument("checkpoint: unexpected entry " + it->path().string());
      if (auto k = known.find(name); k != known.end()) {
        files[name] = {{"crc32", Hex8(k->second.crc32)}, {"bytes", k->second.bytes}};
        continue;
      }
      ASSIGN_OR_RETURN(std::string bytes, ReadWholeFile(it->path().string()));
      files[name] = {{"crc32", Hex8(Crc32Of(bytes.data(), bytes.size()))}, {"bytes", uint64_t(bytes.size())}};
    }
    if (ec) return Status::Unavailable("cannot list " + tmp.string() + ": " + ec.message());
    if (files.empty()) return Status::FailedPrecondition("checkpoint: " + tmp.string() + " holds no shard files");
    const json manifest = {{"format", kCheckpointFormat}, {"step", step}, {"files", files}, {"extra", extra}};
    RETURN_IF_ERROR(WriteFileDurably((tmp / kManifest).string(), manifest.dump(2) + "\n"));
    RETURN_IF_ERROR(FsyncDir(tmp.string()));
    // rename() cannot replace a non-empty dir: move the old one aside first.
    std::error_code rec;
    const bool replacing = fs::exists(final_dir, rec);
    if (replacing) {
      fs::remove_all(old, rec);
      fs::rename(final_dir, old, rec);
      if (rec) return Status::Unavailable("cannot move aside " + final_dir.string() + ": " + rec.message());
    }
    fs::rename(tmp, final_dir, rec);
    if (rec) {
      std::error_code restore;
      if (replacing) fs::rename(old, final_dir, restore);
      return Status::Unavailable("cannot rename " + tmp.string() + " to " + final_dir.string() + ": " + rec.message());
    }
    RETURN_IF_ERROR(FsyncDir(root.string()));
    if (replacing) fs::remove_all(old, rec);
    return Status::Ok();
  };
  if (Status st = finalize(); !st.ok()) {
    std::error_code rec;
    fs::remove_all(tmp, rec);
    return st;
  }

  RemoveStaleTemps(root);
  if (keep > 0) {
    const auto dirs = ListStepDirs(root);
    for (size_t i = static_cast<size_t>(keep); i < dirs.size(); ++i) {
      if (dirs[i].first == step) continue;
      std::error_code rec;
      fs::remove_all(dirs[i].second, rec);
      if (rec) LOG_WARN("checkpoint: cannot prune %s: %s", dirs[i].second.c_str(), rec.message().c_str());
    }
    if (Status st = FsyncDir(root.string()); !st.ok()) LOG_WARN("%s", st.ToString().c_str());
  }
  return Status::Ok();
}

}  // namespace

Status SaveCheckpoint(const std::string& checkpoints_dir, int64_t step, const std::vector<ModuleState>& modules,
                      const nlohmann::json& extra, int keep) {
  if (step < 0) return Status::InvalidArgument("checkpoint: negative step " + std::to_string(step));
  RETURN_IF_ERROR(ValidateModules(modules));
  RETURN_IF_ERROR(CheckWholeTensors(modules));
  const fs::path root(checkpoints_dir);
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) return Status::Unavailable("cannot create " + checkpoints_dir + ": " + ec.message());

  const fs::path tmp = root / ("step-" + std::to_string(step) + ".tmp-" + std::to_string(::getpid()));
  fs::remove_all(tmp, ec);
  if (!fs::create_directory(tmp, ec) || ec)
    return Status::Unavailable("cannot create " + tmp.string() + ": " + ec.message());
  FileSums sums;
  for (const ModuleState& m : modules) {
    if (Status st = WriteModuleFiles(tmp, m, &sums); !st.ok()) {
      fs::remove_all(tmp, ec);
      return st;
    }
  }
  return FinalizeTmpDir(root, tmp, step, extra, keep, sums);
}

Status WriteModuleShard(const std::string& tmp_step_dir, const ModuleState& module) {
  RETURN_IF_ERROR(ValidateModules({module}));
  RETURN_IF_ERROR(CheckWholeTensors({module}));
  std::error_code ec;
  fs::create_directories(tmp_step_dir, ec);
  if (ec) return Status::Unavailable("cannot create " + tmp_step_dir + ": " + ec.message());
  FileSums sums;  // the orchestrator's FinalizeCheckpointDir checksums the files itself
  return WriteModuleFiles(fs::path(tmp_step_dir), module, &sums);
}

Status FinalizeCheckpointDir(const std::string& checkpoints_dir, int64_t step, const nlohmann::json& extra, int keep) {
  if (step < 0) return Status::InvalidArgument("checkpoint: negative step " + std::to_string(step));
  const fs::path root(checkpoints_dir);
  const fs::path tmp = root / ("step-" + std::to_string(step) + ".tmp");
  std::error_code ec;
  if (!fs::is_directory(tmp, ec)) return Status::NotFound("checkpoint: no directory " + tmp.string() + " to finalize");
  return FinalizeTmpDir(root, tmp, step, extra, keep, /*known=*/{});
}

nlohmann::json CheckpointExtra(int64_t next_step, const std::string& job_yaml, uint64_t seed, int global_batch,
                               nlohmann::json layout) {
  return {{"next_step", next_step},
          {"job_yaml", job_yaml},
          {"seed", seed},
          {"data_cursor", {{"next_step", next_step}, {"global_batch", global_batch}}},
          {"layout", std::move(layout)}};
}

Status VerifyCheckpoint(const std::string& step_dir) {
  ASSIGN_OR_RETURN(Manifest manifest, ReadManifest(step_dir));
  for (const ManifestFile& f : manifest.files) {
    StatusOr<std::string> bytes = ReadVerifiedFile(step_dir, f);
    if (!bytes.ok()) return bytes.status();
  }
  return Status::Ok();
}

StatusOr<nlohmann::json> LoadCheckpoint(const std::string& step_dir, const std::vector<ModuleState>& modules) {
  RETURN_IF_ERROR(ValidateModules(modules));
  ASSIGN_OR_RETURN(Manifest manifest, ReadManifest(step_dir));
  std::set<std::string> wanted;
  for (const ModuleState& m : modules) {
    wanted.insert(ParamsFile(m));
    if (m.optim) wanted.insert(OptimFile(m));
  }
  // Every listed file is verified; the ones we need are parsed from the same bytes.
  std::map<std::string, SafetensorsFile> parsed;
  for (const ManifestFile& f : manifest.files) {
    ASSIGN_OR_RETURN(std::string bytes, ReadVerifiedFile(step_dir, f));
    if (!wanted.count(f.name)) continue;
    ASSIGN_OR_RETURN(parsed[f.name], ParseSafetensors(bytes, (fs::path(step_dir) / f.name).string()));
  }
  // Check everything before touching any buffer.
  std::vector<int64_t> steps(modules.size(), 0);
  for (size_t i = 0; i < modules.size(); ++i) {
    const ModuleState& m = modules[i];
    for (const std::string& file : {ParamsFile(m), OptimFile(m)}) {
      if (file == OptimFile(m) && !m.optim) continue;
      const std::string path = (fs::path(step_dir) / file).string();
      auto it = parsed.find(file);
      if (it == parsed.end())
        return Status::NotFound("checkpoint " + step_dir + " has no " + file + " for module '" + m.name + "'");
      const bool optim = file == OptimFile(m);
      RETURN_IF_ERROR(MatchViews(it->second, path, *m.params,
                                 optim ? std::vector<std::string>{"m.", "v."} : std::vector<std::string>{""},
                                 m.subset));
      if (optim) {
        steps[i] = ParseStepCount(it->second.metadata, "t");
        if (steps[i] < 0) return Status::DataLoss("checkpoint file " + path + ": missing or bad metadata \"t\"");
      }
    }
  }
  for (size_t i = 0; i < modules.size(); ++i) {
    const ModuleState& m = modules[i];
    // Through host copies, so device buffers load the same way (and a
    // subset load keeps the values of tensors the file does not hold).
    std::vector<float> values = m.params->ParamsToHost();
    CopyInto(parsed.at(ParamsFile(m)), "", *m.params, values.data());
    m.params->ParamsFromHost(values);
    if (m.optim) {
      const SafetensorsFile& f = parsed.at(OptimFile(m));
      std::vector<float> mm, vv;
      m.optim->MomentsToHost(&mm, &vv);
      CopyInto(f, "m.", *m.params, mm.data());
      CopyInto(f, "v.", *m.params, vv.data());
      m.optim->MomentsFromHost(mm, vv);
      m.optim->set_t(steps[i]);
    }
  }
  return manifest.extra;
}

StatusOr<std::string> FindLatestGoodCheckpoint(const std::string& checkpoints_dir, std::vector<std::string>* skipped) {
  std::error_code ec;
  if (!fs::is_directory(checkpoints_dir, ec))
    return Status::NotFound("no checkpoint directory " + checkpoints_dir);
  const auto dirs = ListStepDirs(checkpoints_dir);
  for (const auto& [step, dir] : dirs) {
    Status st = VerifyCheckpoint(dir.string());
    if (st.ok()) return dir.string();
    const std::string line = dir.string() + ": " + st.ToString();
    LOG_WARN("skipping corrupt checkpoint %s", line.c_str());
    if (skipped) skipped->push_back(line);
  }
  return Status::NotFound("no good checkpoint in " + checkpoints_dir + " (" + std::to_string(dirs.size()) +
                          " step dirs, none verified)");
}

StatusOr<ResumePoint> FindResumePoint(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return Status::NotFound(path + ": no such directory");
  ResumePoint r;
  if (fs::exists(fs::path(path) / kManifest, ec)) {
    RETURN_IF_ERROR(VerifyCheckpoint(path));
    r.dir = path;
  } else {
    const fs::path sub = fs::path(path) / "checkpoints";
    const std::string dir = fs::is_directory(sub, ec) ? sub.string() : path;
    ASSIGN_OR_RETURN(r.dir, FindLatestGoodCheckpoint(dir, &r.skipped));
  }
  ASSIGN_OR_RETURN(Manifest m, ReadManifest(r.dir));
  r.step = m.step;
  return r;
}

}  // namespace braid
