// Checkpoints: checkpoints_dir/step-N/{<module>.safetensors,
// <module>.optim.safetensors, manifest.json}. The manifest lists each file's
// crc32 and size; a step dir appears only by an atomic rename of a fully
// written and fsynced temporary dir, so a crash never leaves a half step-N.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/base/status.h"
#include "common/optim/adamw.h"
#include "common/tensor/param_buffer.h"

namespace braid {

inline constexpr char kCheckpointFormat[] = "braid-checkpoint-v1";

struct ModuleState {
  std::string name;              // file stem: [A-Za-z0-9_.-]+
  ParamBuffer* params = nullptr;
  AdamW* optim = nullptr;        // may be null: params only
  // Loading only: the buffer holds some of the file's tensors (a pipeline
  // stage of the module); the others are skipped instead of refused.
  bool subset = false;
};

// Writes checkpoints_dir/step-<step>/ atomically: files go into
// step-<step>.tmp-<pid>/ and are fsynced, then manifest.json
//   {"format":"braid-checkpoint-v1","step":N,
//    "files":{"encoder.safetensors":{"crc32":"%08x","bytes":B},...},"extra":<json>}
// then the dir is renamed to step-<step> (replacing an existing one) and
// checkpoints_dir is fsynced. Afterwards all but the `keep` newest (highest
// step) step-* dirs are deleted (keep <= 0 keeps all; the dir just written is
// never deleted), as are temporary dirs left by dead processes.
// Params file: one tensor per ParamView. Optim file: "m.<view>", "v.<view>",
// metadata {"t": "<t>"}. One saver per checkpoints_dir at a time (tmp dirs are named by pid).
Status SaveCheckpoint(const std::string& checkpoints_dir, int64_t step, const std::vector<ModuleState>& modules,
                      const nlohmann::json& extra, int keep);

// The distributed runtime's two halves of SaveCheckpoint (which is built
// from the same code). Each module's DP rank 0 writes its shard into
// checkpoints_dir/step-<step>.tmp/ with WriteModuleShard (the dir is created
// if missing; the files are fsynced); the orchestrator then calls
// FinalizeCheckpointDir, which checksums every file already in
// step-<step>.tmp/ into manifest.json (format above), fsyncs, renames the dir
// to step-<step> and prunes like SaveCheckpoint. NotFound when the tmp dir
// does not exist; FailedPrecondition when it holds no files.
Status WriteModuleShard(const std::string& tmp_step_dir, const ModuleState& module);
Status FinalizeCheckpointDir(const std::string& checkpoints_dir, int64_t step, const nlohmann::json& extra, int keep);

// The manifest's "extra" of a training run (the single-process trainer and
// the orchestrator write the same keys):
//   {"next_step":N,"job_yaml":<resolved spec>,"seed":S,
//    "data_cursor":{"next_step":N,"global_batch":B},"layout":<layout>}
// `layout` is {"encoder":{"dp":..,"tp":..,"pp":..},"llm":{..},"generator":{..}}.
nlohmann::json CheckpointExtra(int64_t next_step, const std::string& job_yaml, uint64_t seed, int global_batch,
                               nlohmann::json layout);

// Files always hold whole tensors (the single-process model's shapes); saving
// a buffer with tensor-parallel slices (ParamView::shard) is
// FailedPrecondition. Loading into one takes each view's slice of the whole
// tensor, so a checkpoint resumes under any TP degree.
// Verifies the manifest and every file's crc32 and size, then loads into the
// given buffers (allocated, same views). Errors name the file (checksum,
// missing file) or the tensor (missing view, shape mismatch, unexpected
// tensor). Nothing is modified unless every module loads. Returns "extra".
StatusOr<nlohmann::json> LoadCheckpoint(const std::string& step_dir, const std::vector<ModuleState>& modules);

// step-N dirs newest first; returns the path of the newest that verifies.
// Each skipped corrupt one is logged and appended to `skipped` as
// "<dir>: <error>". NotFound when none verifies.
StatusOr<std::string> FindLatestGoodCheckpoint(const std::string& checkpoints_dir,
                                               std::vector<std::string>* skipped = nullptr);

// Manifest format, step number vs dir name, and each listed file's size and crc32.
Status VerifyCheckpoint(const std::string& step_dir);

// Where a run continues: a verified step-N dir and its step (the manifest's
// "step", which is the next step to run). Corrupt step dirs passed over are
// in `skipped` as "<dir>: <error>".
struct ResumePoint {
  std::string dir;
  int64_t step = 0;
  std::vector<std::string> skipped;
};
// `path` is a step-N dir (it must verify), a checkpoints dir, or a run dir
// holding checkpoints/ (their newest step-N that verifies). NotFound when
// there is none; DataLoss when a named step dir does not verify.
StatusOr<ResumePoint> FindResumePoint(const std::string& path);

}  // namespace braid
