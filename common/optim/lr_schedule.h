// Learning-rate schedules: linear warm-up, then cosine / linear decay or constant.
#pragma once

#include <string>

#include "common/base/status.h"

namespace braid {

struct LrSchedule {
  std::string kind = "cosine";  // "cosine" | "constant" | "linear"
  float lr = 1e-3f, min_lr = 0.0f;
  int warmup_steps = 0;
  int total_steps = 1;
};

// Learning rate at 0-based `step`. With W = warmup_steps, T = total_steps,
// P = max(W-1, 0) the peak step:
//   step <  W : lr * (step+1) / W          (lr/W at step 0, lr at step W-1)
//   "constant": lr afterwards
//   otherwise : x = clamp((step-P) / (T-1-P), 0, 1)
//               (when T-1-P <= 0: x = 0 at step P, 1 after; so T = 1 runs at lr)
//     "cosine": min_lr + (lr-min_lr) * (1 + cos(pi*x)) / 2
//     "linear": lr + (min_lr-lr) * x
// so decay reaches min_lr at step T-1 and stays there. An unknown kind is a
// programmer bug (validate configs with ValidateLrSchedule first).
float LearningRateAt(const LrSchedule& s, int step);

// InvalidArgument for an unknown kind, negative lr/min_lr/warmup, total_steps < 1.
Status ValidateLrSchedule(const LrSchedule& s);

}  // namespace braid
