#include "proxy/control/host_policy.h"

#include <algorithm>

namespace lb::control {

using upstream::Health;

std::optional<Health> recordCheck(CheckStreak& streak, bool passed, Health current,
                                  const config::HealthCheckConfig& cfg) {
  if (passed) {
    ++streak.passes;
    streak.failures = 0;
    if (current != Health::kHealthy && streak.passes >= cfg.healthy_threshold)
      return Health::kHealthy;
  } else {
    ++streak.failures;
    streak.passes = 0;
    if (current != Health::kUnhealthy && streak.failures >= cfg.unhealthy_threshold)
      return Health::kUnhealthy;
  }
  return std::nullopt;
}

Ejection decideEjection(const config::OutlierConfig& cfg, size_t hosts, size_t ejected_now,
                        uint32_t earlier) {
  Ejection e;
  e.allowed = (ejected_now + 1) * 100 <= static_cast<size_t>(cfg.max_ejection_percent) * hosts;
  e.duration = std::min(cfg.base_ejection_time * (earlier + 1), cfg.max_ejection_time);
  return e;
}

}  // namespace lb::control
