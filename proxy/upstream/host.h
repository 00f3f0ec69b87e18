// A backend host and its runtime state. One HostState per cluster and host id, shared by every
// worker (shared_ptr), so runtime state survives snapshot rebuilds and reloads. Workers only
// read it, one relaxed atomic load per field; the main thread (admin API, health checks,
// outlier detection) writes it.
#pragma once

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace lb::upstream {

// HAProxy's words: ready takes traffic; drain finishes what it has and takes nothing new;
// maint is out of traffic and out of health checks.
enum class AdminState : uint8_t { kReady, kDrain, kMaint };
// checking: not yet decided by the active health check (a new host); it takes no traffic.
enum class Health : uint8_t { kHealthy, kUnhealthy, kChecking };

const char* adminStateName(AdminState s);
const char* healthName(Health h);

inline int64_t steadyMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Weights are scaled so slow start can ramp a weight of 1 smoothly.
constexpr uint32_t kWeightScale = 100;

struct HostState {
  std::string cluster;
  std::string id;
  std::string address;
  uint64_t sticky_token = 0;  // names the host in sticky-session cookies (cluster and id)
  sockaddr_storage sockaddr{};
  socklen_t sockaddr_len = 0;
  std::atomic<uint32_t> weight{1};
  std::atomic<AdminState> admin{AdminState::kReady};
  std::atomic<Health> health{Health::kHealthy};
  std::atomic<bool> ejected{false};  // passive outlier detection
  // Slow start: when the host last became usable (steady ms) and over how long it ramps.
  std::atomic<int64_t> ramp_start_ms{0};
  std::atomic<int64_t> ramp_ms{0};

  bool usable() const {
    return admin.load(std::memory_order_relaxed) == AdminState::kReady &&
           health.load(std::memory_order_relaxed) == Health::kHealthy &&
           !ejected.load(std::memory_order_relaxed);
  }

  // weight * kWeightScale, ramped linearly from 10% during slow start.
  uint32_t effectiveWeight(int64_t now_ms) const {
    uint32_t full = weight.load(std::memory_order_relaxed) * kWeightScale;
    int64_t ramp = ramp_ms.load(std::memory_order_relaxed);
    if (ramp <= 0) return full;
    int64_t elapsed = now_ms - ramp_start_ms.load(std::memory_order_relaxed);
    if (elapsed >= ramp) return full;
    uint64_t w = uint64_t{full} * static_cast<uint64_t>(elapsed < 0 ? 0 : elapsed) /
                 static_cast<uint64_t>(ramp);
    return std::max<uint32_t>(static_cast<uint32_t>(w), full / 10);
  }
};

}  // namespace lb::upstream
