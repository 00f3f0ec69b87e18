// The two decisions the controller makes about a host's health, as pure functions: the rise/fall
// of active health checks (healthy_threshold passes in a row make a host healthy,
// unhealthy_threshold failures in a row unhealthy) and outlier ejection (how long, and whether
// max_ejection_percent allows it). The controller applies them to HostState and arms the
// timers; tests/unit/host_policy_test.cc covers them. Any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "config/model.h"
#include "proxy/upstream/host.h"

namespace lb::control {

// Consecutive active check results of one host.
struct CheckStreak {
  uint32_t passes = 0;
  uint32_t failures = 0;
};

// Records one check; returns the health the host moves to, or nullopt when it stays.
std::optional<upstream::Health> recordCheck(CheckStreak& streak, bool passed,
                                            upstream::Health current,
                                            const config::HealthCheckConfig& cfg);

struct Ejection {
  bool allowed = false;       // false: ejecting would pass max_ejection_percent
  config::Duration duration;  // base_ejection_time x (earlier ejections + 1), capped
};

// A host of a cluster of `hosts` crossed an outlier threshold while `ejected_now` others are
// ejected; it has been ejected `earlier` times before.
Ejection decideEjection(const config::OutlierConfig& cfg, size_t hosts, size_t ejected_now,
                        uint32_t earlier);

}  // namespace lb::control
