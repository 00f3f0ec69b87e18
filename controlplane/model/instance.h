// What lbcontrol knows about one instance of the application. Owned by the rollout engine's
// thread (controlplane/rollout/engine.h); copies travel to the API thread as JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace lb::controlplane {

// The life of an instance, in order. Only kGating..kDraining and kParked are in the proxies
// (kGating and kParked in state drain: health-checked, no traffic).
enum class Phase {
  kStarting,  // the driver started it; it does not yet pass its health probe
  kGating,    // in the proxies (drain), waiting for their health checks and min_healthy_time
  kBaking,    // ready in every proxy; its live statistics are analysed for bake_time
  kServing,   // ready, baked
  kDraining,  // drain on every proxy; waiting until no request is in flight
  kParked,    // drained, process kept so a rollback can put it back at once
  kStopping,  // being removed from the proxies and stopped
  kStopped,   // gone; kept in the journal until the rollout ends, for the record
  kFailed,    // crashed or failed a gate; taken out of traffic; will be stopped
};

const char* phaseName(Phase phase);
std::optional<Phase> parsePhase(const std::string& name);

// In the proxies with state ready (taking or about to take requests).
inline bool inTraffic(Phase p) { return p == Phase::kBaking || p == Phase::kServing; }

struct Instance {
  std::string id;
  std::string version;
  std::string address;  // "IP:PORT" once known
  uint16_t port = 0;
  int pid = 0;  // process driver only
  Phase phase = Phase::kStarting;
  int64_t phase_since_ms = 0;  // wall clock (ms since the epoch): deadlines survive restarts
  int64_t started_ms = 0;
  int64_t healthy_since_ms = 0;  // kGating: healthy on every proxy since; 0 = not yet
  int64_t traffic_since_ms = 0;  // set ready in the proxies (kBaking, or unparked) at
  uint32_t probe_passes = 0;     // kStarting: consecutive passes of the direct health probe
  std::string note;              // why it failed, or the last thing that went wrong
};

}  // namespace lb::controlplane
