// A step's scalars (loss sums, gradient norms) in the thread's memory:
// ops add into them on the device, and the step reads them back all at
// once, with its report. A device step so waits for its stream once, at
// its end, instead of once per microbatch (docs/GPU.md, "Step scalars").
// On the host they are plain doubles. Make it with the step's device
// current on the thread.
#pragma once

#include <vector>

#include "common/base/check.h"
#include "common/tensor/tensor.h"

namespace braid {

class StepScalars {
 public:
  explicit StepScalars(int n) : v_({n}) {}  // zeroed
  int size() const { return int(v_.numel()); }
  double* at(int i) {
    BRAID_CHECK_MSG(i >= 0 && i < size(), "StepScalars::at(%d) of %d", i, size());
    return v_.data() + i;
  }
  void Zero() { v_.Zero(); }
  // All of them on the host (on a device: one copy, one wait).
  std::vector<double> Read() const { return v_.ToHost(); }

 private:
  TensorT<double> v_;
};

}  // namespace braid
