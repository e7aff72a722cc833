// The optimizer and learning-rate schedule of a job's `train:` section, built
// in one place for the single-process trainer and every worker.
#pragma once

#include "common/config/job_config.h"
#include "common/optim/adamw.h"
#include "common/optim/lr_schedule.h"

namespace braid {

AdamWConfig AdamWConfigFor(const TrainConfig& t);
LrSchedule LrScheduleFor(const TrainConfig& t);

}  // namespace braid
