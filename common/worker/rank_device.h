// The compute device of one rank (docs/GPU.md step 3): the module runner
// runs its rank's ops on it and keeps params, gradients, AdamW state and
// activations in its memory; everything that crosses the rank's edge
// (boundary messages, DP all-reduces, losses, checkpoints, the microbatch's
// pixels) is staged through host copies. The caller (worker_main for
// --device cuda, tests with a fake device) makes one per rank through a
// RankDeviceFactory.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/base/status.h"
#include "common/ops/backend.h"
#include "common/worker/rank_data.h"

namespace braid::worker {

class RankDevice {
 public:
  // What Enter returns: while alive, the device is the calling thread's.
  class Scope {
   public:
    virtual ~Scope() = default;
  };

  virtual ~RankDevice() = default;
  // The device kind in messages: "cuda", "guarded-fake".
  virtual std::string kind() const = 0;
  // Makes the device the calling thread's until the scope is destroyed:
  // its ops::Backend and whatever thread state its ops need (a CUDA
  // context). Scopes nest; destroying one restores what was before.
  virtual std::unique_ptr<Scope> Enter() = 0;
  // The device's first error since the last call (OK when none). Called at
  // op boundaries of the runner: after each forward, backward and
  // optimizer step.
  virtual Status TakeError() = 0;
};

// Makes the device of module rank `rank` of `role`.
using RankDeviceFactory = std::function<StatusOr<std::unique_ptr<RankDevice>>(Role role, int rank)>;

// A RankDevice for a plain ops::Backend with no thread state of its own (a
// fake device in tests): Enter installs the backend; `take_error` may be empty.
class BackendRankDevice : public RankDevice {
 public:
  BackendRankDevice(std::string kind, ops::Backend backend, std::function<Status()> take_error = nullptr)
      : kind_(std::move(kind)), backend_(backend), take_error_(std::move(take_error)) {}
  std::string kind() const override { return kind_; }
  std::unique_ptr<Scope> Enter() override { return std::make_unique<BackendScope>(backend_); }
  Status TakeError() override { return take_error_ ? take_error_() : Status::Ok(); }

 private:
  class BackendScope : public Scope {
   public:
    explicit BackendScope(ops::Backend b) : scope_(b) {}

   private:
    ops::ScopedBackend scope_;
  };
  std::string kind_;
  ops::Backend backend_;
  std::function<Status()> take_error_;
};

}  // namespace braid::worker
