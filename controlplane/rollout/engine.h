// The rollout engine: owns lbcontrol's state (instances, rollout, history), journals every
// change before acting on it, and every tick (200 ms) observes the proxies and the instances,
// moves each instance along its phases (instance.h), judges the new version's live traffic
// (analysis.h) and carries out the planner's next actions (planner.h).
//
// Threading: everything here runs on the engine's own loop thread. The API thread posts
// closures to that loop and gets JSON back by posting to its own; the engine never blocks the
// API, and blocking calls (proxies' admin API, health probes, exec commands) happen only here.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "common/event_loop.h"
#include "config/control_model.h"
#include "controlplane/model/driver.h"
#include "controlplane/proxy/proxy_fleet.h"
#include "controlplane/state/journal.h"

namespace lb::controlplane {

struct ApiResult {
  int status = 200;
  nlohmann::json body;
};

class Engine {
 public:
  // `driver` starts and stops the instances (controlplane/driver/drivers.h makes one from cfg).
  Engine(const config::ControlConfig& cfg, common::EventLoop& loop, std::unique_ptr<Driver> driver);
  ~Engine();

  // Engine thread, before the first tick: reads the journal, re-adopts instances, starts the
  // initial release if there is none. False + *error when lbcontrol must not run.
  bool start(std::string* error);

  // Engine thread. `who` is the caller's token name (audit log).
  ApiResult deploy(const std::string& version, const std::string& who, const std::string& reason);
  ApiResult rollback(const std::string& to, const std::string& who, const std::string& reason);
  ApiResult pause(const std::string& who, const std::string& reason);
  ApiResult resume(const std::string& who, const std::string& reason);
  ApiResult abort(const std::string& who, const std::string& reason);
  ApiResult approve(const std::string& who, const std::string& reason);
  ApiResult status() const;
  ApiResult rolloutView() const;
  ApiResult instances() const;
  ApiResult releases() const;
  ApiResult audit(size_t limit) const;

 private:
  ApiResult startRollout(const std::string& version, const std::string& who,
                         const std::string& reason, const std::string& kind);
  void tick();
  void advance(Instance& inst, const FleetView& view, int64_t now);
  void addToProxies(Instance& inst);
  void analyse(int64_t now);
  void drive(int64_t now);
  void reconcileIdle(int64_t now);
  void startInstance(const std::string& version, int64_t now);
  void setPhase(Instance& inst, Phase phase, int64_t now);
  void fail(Instance& inst, const std::string& why, int64_t now);
  void beginRollback(const std::string& reason, const std::string& who, bool abort, int64_t now);
  void finish(const std::string& outcome, int64_t now);
  bool approvalNeeded() const;
  uint16_t pickPort() const;
  void commit();
  nlohmann::json rolloutJson() const;

  config::ControlConfig cfg_;
  common::EventLoop& loop_;
  common::Timer timer_;
  std::unique_ptr<Driver> driver_;
  ProxyFleet fleet_;
  Journal journal_;
  ControlState state_;
  FleetView last_view_;
  int64_t next_analysis_ms_ = 0;
};

}  // namespace lb::controlplane
