#include "common/optim/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "common/base/check.h"

namespace braid {

float LearningRateAt(const LrSchedule& s, int step) {
  const bool cosine = s.kind == "cosine", linear = s.kind == "linear", constant = s.kind == "constant";
  BRAID_CHECK_MSG(cosine || linear || constant, "unknown LR schedule kind '%s'", s.kind.c_str());
  const double lr = s.lr, min_lr = s.min_lr;
  if (step < s.warmup_steps) {
    return static_cast<float>(lr * (std::max(step, 0) + 1) / s.warmup_steps);
  }
  if (constant) return s.lr;
  const int peak = std::max(s.warmup_steps - 1, 0);
  const int span = s.total_steps - 1 - peak;
  const double x = span <= 0 ? (step <= peak ? 0.0 : 1.0) : std::clamp(static_cast<double>(step - peak) / span, 0.0, 1.0);
  if (cosine) return static_cast<float>(min_lr + (lr - min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * x)));
  return static_cast<float>(lr + (min_lr - lr) * x);
}

Status ValidateLrSchedule(const LrSchedule& s) {
  if (s.kind != "cosine" && s.kind != "linear" && s.kind != "constant")
    return Status::InvalidArgument("lr schedule kind '" + s.kind + "': want cosine, linear or constant");
  if (!(s.lr >= 0.0f) || !(s.min_lr >= 0.0f))
    return Status::InvalidArgument("lr schedule: lr and min_lr must be >= 0");
  if (s.warmup_steps < 0) return Status::InvalidArgument("lr schedule: warmup_steps must be >= 0");
  if (s.total_steps < 1) return Status::InvalidArgument("lr schedule: total_steps must be >= 1");
  return Status::Ok();
}

}  // namespace braid
