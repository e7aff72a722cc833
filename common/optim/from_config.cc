#include "common/optim/from_config.h"

namespace braid {

AdamWConfig AdamWConfigFor(const TrainConfig& t) {
  return AdamWConfig{float(t.beta1), float(t.beta2), 1e-8f, float(t.weight_decay)};
}

LrSchedule LrScheduleFor(const TrainConfig& t) {
  LrSchedule s;
  s.kind = t.schedule;
  s.lr = float(t.lr);
  s.min_lr = float(t.min_lr);
  s.warmup_steps = t.warmup_steps;
  s.total_steps = t.steps;
  return s;
}

}  // namespace braid
