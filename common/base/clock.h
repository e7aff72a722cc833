// Monotonic wall clock helpers.
#pragma once

#include <chrono>

namespace braid {
inline double NowSeconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

class Stopwatch {
 public:
  Stopwatch() : start_(NowSeconds()) {}
  double Seconds() const { return NowSeconds() - start_; }
  void Reset() { start_ = NowSeconds(); }

 private:
  double start_;
};
}  // namespace braid
