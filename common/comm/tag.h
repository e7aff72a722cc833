// 64-bit UCX tag layout for boundary traffic. Receives match the full tag, so
// one tag names exactly one message: (kind, step, microbatch, unit).
//
//   bits 63..60  kind        (4)   which boundary and direction
//   bits 59..40  step        (20)  training step, wraps every 2^20 steps
//   bits 39..32  microbatch  (8)
//   bits 31..0   unit        (32)  image id / sample id / generation target
#pragma once

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <string>

#include "common/base/check.h"

namespace braid::comm {

enum TagKind : uint32_t {
  kEncToLlmFwd = 1,   // image embeddings, encoder -> LLM
  kLlmToEncBwd = 2,   // their gradients, LLM -> encoder
  kLlmToGenFwd = 3,   // conditioning states, LLM -> generator
  kGenToLlmBwd = 4,   // their gradients, generator -> LLM
  kTagKindTest = 15,  // tests and benchmarks
};

inline constexpr int kTagUnitBits = 32;
inline constexpr int kTagMicrobatchBits = 8;
inline constexpr int kTagStepBits = 20;
inline constexpr int kTagKindBits = 4;
inline constexpr uint64_t kTagStepMask = (uint64_t{1} << kTagStepBits) - 1;

// kind < 16 and microbatch < 256 are checked (a larger value would alias
// another message); step wraps by design: only nearby steps are ever in flight.
inline uint64_t MakeTag(uint32_t kind, uint64_t step, uint32_t microbatch, uint32_t unit) {
  BRAID_CHECK_MSG(kind < (1u << kTagKindBits), "tag kind %u does not fit in 4 bits", kind);
  BRAID_CHECK_MSG(microbatch < (1u << kTagMicrobatchBits), "microbatch %u does not fit in 8 bits", microbatch);
  return (uint64_t{kind} << (kTagUnitBits + kTagMicrobatchBits + kTagStepBits)) |
         ((step & kTagStepMask) << (kTagUnitBits + kTagMicrobatchBits)) |
         (uint64_t{microbatch} << kTagUnitBits) | uint64_t{unit};
}

struct TagParts {
  uint32_t kind;
  uint64_t step;  // modulo 2^20
  uint32_t microbatch;
  uint32_t unit;
};

inline TagParts SplitTag(uint64_t tag) {
  TagParts p;
  p.kind = static_cast<uint32_t>(tag >> (kTagUnitBits + kTagMicrobatchBits + kTagStepBits));
  p.step = (tag >> (kTagUnitBits + kTagMicrobatchBits)) & kTagStepMask;
  p.microbatch = static_cast<uint32_t>((tag >> kTagUnitBits) & 0xFFu);
  p.unit = static_cast<uint32_t>(tag & 0xFFFFFFFFu);
  return p;
}

inline const char* TagKindName(uint32_t kind) {
  switch (kind) {
    case kEncToLlmFwd: return "enc->llm fwd";
    case kLlmToEncBwd: return "llm->enc bwd";
    case kLlmToGenFwd: return "llm->gen fwd";
    case kGenToLlmBwd: return "gen->llm bwd";
    case kTagKindTest: return "test";
    default: return "unknown";
  }
}

// "tag{enc->llm fwd step=5 mb=2 unit=17}" for logs and error messages.
inline std::string TagToString(uint64_t tag) {
  const TagParts p = SplitTag(tag);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "tag{%s step=%" PRIu64 " mb=%u unit=%u}", TagKindName(p.kind), p.step,
                p.microbatch, p.unit);
  return buf;
}

}  // namespace braid::comm
