// The time an event loop runs on. Production reads the steady clock; a test gives the loop a
// ManualClock and moves time itself, so a timeout is an event the test causes, not a wait
// (simulated time, as Envoy's tests do). Owner: the loop's thread, like the loop.
#pragma once

#include <chrono>

namespace lb::common {

class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual time_point now() const = 0;
};

// Time that moves only when advance() is called.
class ManualClock final : public Clock {
 public:
  time_point now() const override { return now_; }
  void advance(std::chrono::nanoseconds by) { now_ += by; }

 private:
  time_point now_{std::chrono::hours(1)};
};

}  // namespace lb::common
