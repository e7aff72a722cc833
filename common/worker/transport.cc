#include "common/worker/transport.h"

#include <cstdio>

namespace braid::worker {

std::string BoundaryKey::ToString() const {
  static const char* names[] = {"?", "enc->llm", "llm->enc", "llm->gen", "gen->llm", "llm stage->next", "llm stage->prev"};
  const uint32_t k = static_cast<uint32_t>(kind);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%s step %lld mb %d unit %u", k < 7 ? names[k] : "?", (long long)step, microbatch,
                uid);
  return buf;
}

}  // namespace braid::worker
