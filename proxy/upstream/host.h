// A backend host and its runtime state. One HostState per host id, shared by every worker
// (shared_ptr), so runtime state survives snapshot rebuilds. Workers only read it, with one
// relaxed atomic load per field; the main thread (admin, health checks) writes it.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <string>

namespace lb::upstream {

enum class AdminState : uint8_t { kReady, kDrain, kMaint };
enum class Health : uint8_t { kHealthy, kUnhealthy, kChecking };

struct HostState {
  std::string id;
  std::string address;
  sockaddr_storage sockaddr{};
  socklen_t sockaddr_len = 0;
  std::atomic<uint32_t> weight{1};
  std::atomic<AdminState> admin{AdminState::kReady};
  std::atomic<Health> health{Health::kHealthy};

  bool usable() const {
    return admin.load(std::memory_order_relaxed) == AdminState::kReady &&
           health.load(std::memory_order_relaxed) != Health::kUnhealthy;
  }
};

}  // namespace lb::upstream
