// Parameter initialisation, keyed by (seed, parameter name) so that a
// module's initial weights do not depend on declaration order or on rank.
#pragma once

#include <cstdint>
#include <string>

#include "common/tensor/param_buffer.h"

namespace braid::nn {

// Fills view `index` with N(0, std^2) drawn from HashKey(seed, hash(name));
// a sharded view gets its slice of the full tensor's draw.
void InitNormal(ParamBuffer& pb, int index, uint64_t seed, float std);
void InitConstant(ParamBuffer& pb, int index, float value);

}  // namespace braid::nn
