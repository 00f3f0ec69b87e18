// The rollout engine: owns lbcontrol's state (instances, rollout, history) and runs the rollout
// as a loop of rounds. A round (round.h) does the I/O on its own thread: the fleet actions the
// last step decided, then the proxies' views, the health probes and the stats, in parallel.
// Back on the engine's thread the step (step.h) decides, the journal records the state it left
// and only then are its actions carried out: the driver's starts and stops here, the fleet
// actions in the next round. Rounds start every 200 ms, or at once when the step asked for
// fleet actions (not twice in a row, so a proxy that keeps refusing is not hammered).
//
// Threading: everything here runs on the engine's own loop thread. The API thread posts
// closures to that loop and gets the answers back by posting to its own; nothing here waits on
// the network, so the API is answered while a round is out. The driver's calls are bounded
// (driver.h) and run here.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/event_loop.h"
#include "config/control_model.h"
#include "controlplane/model/driver.h"
#include "controlplane/proxy/proxy_fleet.h"
#include "controlplane/rollout/round.h"
#include "controlplane/rollout/step.h"
#include "controlplane/state/journal.h"

namespace lb::controlplane {

// Why the engine refused an API call. The API server turns it into an HTTP answer.
struct EngineError {
  enum class Kind { kBadRequest, kNotFound, kConflict };
  Kind kind = Kind::kConflict;
  std::string message;
  std::string rollout_id;  // kConflict with an active rollout: which one
};

// What an API call of the engine answers: a JSON view, or the error.
struct EngineAnswer {
  nlohmann::json body;
  std::optional<EngineError> error;
  bool ok() const { return !error; }
};

class Engine {
 public:
  // `driver` starts and stops the instances (controlplane/driver/drivers.h makes one from cfg).
  Engine(const config::ControlConfig& cfg, common::EventLoop& loop, std::unique_ptr<Driver> driver);
  ~Engine();

  // Engine thread, before the first round: reads the journal, re-adopts instances, starts the
  // initial release if there is none. False + *error when lbcontrol must not run.
  bool start(std::string* error);

  // Engine thread. `who` is the caller's token name (audit log).
  EngineAnswer deploy(const std::string& version, const std::string& who,
                      const std::string& reason);
  EngineAnswer rollback(const std::string& to, const std::string& who, const std::string& reason);
  EngineAnswer pause(const std::string& who, const std::string& reason);
  EngineAnswer resume(const std::string& who, const std::string& reason);
  EngineAnswer abort(const std::string& who, const std::string& reason);
  EngineAnswer approve(const std::string& who, const std::string& reason);
  EngineAnswer status() const;
  EngineAnswer rolloutView() const;
  EngineAnswer instances() const;
  EngineAnswer releases() const;
  EngineAnswer audit(size_t limit) const;

 private:
  EngineAnswer startRollout(const std::string& version, const std::string& who,
                            const std::string& reason, RolloutKind kind);
  void onTimer();
  void startRound();
  void onRound(RoundResult result);
  void carryOut(Actions& actions);
  void startInstance(const std::string& id);
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
  StepMemory memory_;
  FleetView last_view_;
  RoundRequest next_round_;                            // what the next round carries out and asks
  std::map<std::string, std::string> start_failures_;  // for the next step
  std::string last_saved_;                             // the journal as last written
  bool round_out_ = false;
  bool last_round_immediate_ = false;
  RoundRunner rounds_;  // last: its thread stops before the rest is destroyed
};

}  // namespace lb::controlplane
