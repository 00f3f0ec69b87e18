// The rollout engine's decisions as one pure step: what the engine observed in, the state moved
// on and the actions to carry out out. No clock (the observation carries the time), no I/O, no
// threads: tests/unit/rollout_step_test.cc drives it over many fleets and failures. The engine
// (engine.h) gathers the observations, journals the state the step left and only then carries
// out its actions, so a restart always knows what may have happened. Any thread; the engine
// calls it on its own.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/control_model.h"
#include "controlplane/model/driver.h"
#include "controlplane/proxy/proxy_fleet.h"
#include "controlplane/state/control_state.h"

namespace lb::controlplane {

// A direct health probe of a starting instance (GET rollout.health_gate.path).
struct Probe {
  std::string id;
  std::string address;
  bool operator==(const Probe&) const = default;
};
struct ProbeResult {
  bool passed = false;
  std::string failure;  // "HTTP 503", "connection refused"; "" when it passed
};

struct InstanceLiveness {
  Liveness liveness = Liveness::kUnknown;
  std::string why;  // kExited: "exit status 1", "killed by signal 9"
};

struct Observation {
  int64_t now_ms = 0;  // wall clock, ms since the epoch (deadlines survive restarts)
  FleetView fleet;     // what every proxy said this round
  std::map<std::string, InstanceLiveness> liveness;   // by instance id; missing = kUnknown
  std::map<std::string, ProbeResult> probes;          // the probes the last step asked for
  std::optional<TrafficView> traffic;                 // the stats the last step asked for
  std::map<std::string, std::string> fleet_failures;  // id -> the last actions' failures
  std::map<std::string, std::string> start_failures;  // id -> why the driver did not start it
};

struct AuditEntry {
  std::string who;  // a token's name, or "lbcontrol" for its own decisions
  std::string action;
  std::string target;
  std::string reason;
  std::string result;
  bool operator==(const AuditEntry&) const = default;
};

struct Actions {
  std::vector<FleetAction> fleet;  // in order, each on every proxy
  std::vector<Probe> probes;
  std::optional<uint32_t> traffic_window_s;  // the stats to fetch for the next analysis
  std::vector<std::string> start;            // new instances (kStarting) for the driver to start
  std::vector<std::string> stop;             // instances for the driver to stop
  std::vector<AuditEntry> audit;
  std::vector<std::string> log;  // lines for lbcontrol's log
};

// What the step remembers between ticks that need not survive a restart.
struct StepMemory {
  int64_t next_analysis_ms = 0;
  uint32_t pending_window_s = 0;  // stats asked for over this window; judged when they come
};

// Moves `state` one tick on from `obs`.
Actions step(const config::ControlConfig& cfg, const Observation& obs, ControlState& state,
             StepMemory& memory);

// A new rollout of `version` from the current release, as the active one (a deploy, a rollback
// or the initial release); the step's memory starts over. Returns its audit entry.
AuditEntry openRollout(const config::ControlConfig& cfg, ControlState& state, StepMemory& memory,
                       const std::string& version, RolloutKind kind, const std::string& who,
                       const std::string& reason, int64_t now);

// The transitions an operator also asks for (engine_api.cc). A rollback by "lbcontrol" with
// rollout.auto_rollback off pauses the rollout instead.
void beginRollback(const config::ControlConfig& cfg, ControlState& state, const std::string& reason,
                   const std::string& who, bool abort, int64_t now, Actions& out);

}  // namespace lb::controlplane
