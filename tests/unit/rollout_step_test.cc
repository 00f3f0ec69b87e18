// The rollout engine's step (controlplane/rollout/step.h) driven over a simulated world: one
// proxy that applies the fleet actions as lbproxy does, instance processes that start, pass or
// fail probes, crash and answer with errors as each test's versions behave, and simulated time.
// Every tick checks the promises a rollout makes (capacity, surge, never stopping an instance
// in traffic, no traffic to a version that failed its gate).
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <set>

#include "controlplane/rollout/step.h"

namespace lb::controlplane {
namespace {

constexpr int64_t kTickMs = 200;

struct Behaviour {
  bool starts = true;            // the driver can start it
  bool healthy = true;           // passes its probe and the proxy's health checks
  int64_t crashes_after_ms = 0;  // after this long in traffic it exits; 0 = never
  double error_rate = 0;         // share of its requests that fail
  bool ejected = false;          // the proxy's outlier detection ejects it once ready
};

struct Process {
  std::string version;
  bool running = false;
  int64_t ready_since_ms = 0;
};

class World {
 public:
  World() {
    cfg.cluster = "app";
    cfg.instances.count = 3;
    cfg.instances.id_prefix = "app";
    auto& r = cfg.rollout;
    r.max_surge = 1;
    r.max_unavailable = 0;
    r.health_gate.checks = 2;
    r.health_gate.min_healthy_time = config::Duration(400);
    r.health_gate.deadline = config::Duration(5000);
    r.drain_timeout = config::Duration(3000);
    r.bake_time = config::Duration(1000);
    r.watch_window = config::Duration(1000);
    r.analysis.interval = config::Duration(1000);
    r.analysis.min_requests = 20;
    r.analysis.failing_intervals = 3;
  }

  std::function<Behaviour(const std::string& version)> behaviour = [](const std::string&) {
    return Behaviour{};
  };

  // What an operator's deploy does (engine_api.cc), the initial release too.
  void deploy(const std::string& version, RolloutKind kind = RolloutKind::kDeploy) {
    audit.push_back(openRollout(cfg, state, memory, version, kind, "alice", "", now));
  }

  void tick() {
    Observation obs;
    obs.now_ms = now;
    // The round: the last step's fleet actions, then the view.
    for (const auto& a : pending.fleet) apply(a, &obs);
    obs.fleet.proxies = 1;
    if (proxy_down) {
      obs.fleet.errors.push_back("http://127.0.0.1:9901: connection refused");
    } else {
      for (const auto& [id, v] : proxy) obs.fleet.hosts[id].push_back(v);
    }
    for (const auto& p : pending.probes) {
      auto it = procs.find(p.id);
      const bool up = it != procs.end() && it->second.running;
      obs.probes[p.id] = up && behaviour(it->second.version).healthy
                             ? ProbeResult{true, ""}
                             : ProbeResult{false, up ? "HTTP 503" : "connection refused"};
    }
    if (pending.traffic_window_s) {
      TrafficView t;
      for (const auto& [id, v] : proxy) {
        if (v.state != "ready") continue;
        const double rate = behaviour(procs[id].version).error_rate;
        t.hosts[id] = {100, static_cast<uint64_t>(rate * 100), 5.0};
      }
      obs.traffic = t;
    }
    for (const auto& i : state.instances) {
      auto it = procs.find(i.id);
      obs.liveness[i.id] = it != procs.end() && it->second.running
                               ? InstanceLiveness{Liveness::kRunning, ""}
                               : InstanceLiveness{Liveness::kExited, "exit status 1"};
    }
    obs.start_failures = std::exchange(start_failures, {});

    pending = step(cfg, obs, state, memory);
    for (const auto& e : pending.audit) audit.push_back(e);
    carryOut();
    now += kTickMs;
    simulate();
    check();
  }

  std::string describe() const {
    std::string out;
    for (const auto& i : state.instances)
      out += i.id + "(" + i.version + ")=" + phaseName(i.phase) + " ";
    out += "| proxy:";
    for (const auto& [id, v] : proxy) out += " " + id + "=" + v.state;
    return out;
  }

  // Ticks until the rollout ends (or `ticks` pass), then one round more: the step that ends a
  // rollout may still have actions for the proxies (the engine sends them at once). True when
  // it ended.
  bool runToEnd(int ticks = 1000) {
    for (int k = 0; k < ticks; ++k) {
      tick();
      if (state.rollout && !state.rollout->active()) {
        tick();
        return true;
      }
    }
    return false;
  }
  bool runUntil(const std::function<bool()>& done, int ticks = 1000) {
    for (int k = 0; k < ticks; ++k) {
      if (done()) return true;
      tick();
    }
    return done();
  }

  int phaseCount(const std::string& version, Phase phase) const {
    return static_cast<int>(
        std::count_if(state.instances.begin(), state.instances.end(),
                      [&](const Instance& i) { return i.version == version && i.phase == phase; }));
  }
  int readyInProxy(const std::string& version) {
    int n = 0;
    for (const auto& [id, v] : proxy)
      if (v.state == "ready" && procs[id].version == version) ++n;
    return n;
  }

  config::ControlConfig cfg;
  ControlState state;
  StepMemory memory;
  int64_t now = 1'000'000;
  std::map<std::string, HostView> proxy;  // the one proxy's host list
  std::map<std::string, Process> procs;
  std::map<std::string, std::string> start_failures;
  Actions pending;
  std::vector<AuditEntry> audit;
  bool proxy_down = false;
  bool fleet_refuses = false;        // the proxy answers every action with an error
  bool capacity_promised = false;    // set once the release is whole
  std::set<std::string> ever_ready;  // versions that took traffic
  std::vector<std::string> violations;

 private:
  void apply(const FleetAction& a, Observation* obs) {
    if (proxy_down || fleet_refuses) {
      obs->fleet_failures[a.id] = "http://127.0.0.1:9901: HTTP 500 refused";
      return;
    }
    switch (a.kind) {
      case FleetAction::Kind::kAdd:
        if (!proxy.count(a.id)) proxy[a.id] = HostView{"drain", "checking", false, false, true, 0};
        if (a.labels.at(cfg.version_label) != procs[a.id].version)
          violations.push_back(a.id + " added with the wrong version label");
        return;
      case FleetAction::Kind::kReady:
        if (auto it = proxy.find(a.id); it != proxy.end()) {
          it->second.state = "ready";
          it->second.drained = false;
          procs[a.id].ready_since_ms = now;
          ever_ready.insert(procs[a.id].version);
        }
        return;
      case FleetAction::Kind::kDrain:
        if (auto it = proxy.find(a.id); it != proxy.end()) {
          it->second.state = "drain";
          it->second.drained = true;  // no request in flight in this world
        }
        return;
      case FleetAction::Kind::kRemove:
        proxy.erase(a.id);
        return;
    }
  }

  void carryOut() {
    for (const auto& id : pending.stop) {
      if (auto it = proxy.find(id); it != proxy.end() && it->second.state == "ready")
        violations.push_back("stopped " + id + " while it took traffic");
      if (proxy.count(id)) violations.push_back("stopped " + id + " while in the proxy");
      procs[id].running = false;
    }
    for (const auto& id : pending.start) {
      Instance* i = state.find(id);
      if (!i || i->phase != Phase::kStarting) {
        violations.push_back("asked to start " + id + " that is not starting");
        continue;
      }
      if (!behaviour(i->version).starts) {
        start_failures[id] = "command exited with status 127";
        continue;
      }
      procs[id] = Process{i->version, true, 0};
      i->address = "127.0.0.1:" + std::to_string(9100 + procs.size());
    }
  }

  void simulate() {
    for (auto& [id, v] : proxy) {
      Process& p = procs[id];
      const Behaviour b = behaviour(p.version);
      if (p.running && b.crashes_after_ms && p.ready_since_ms &&
          now - p.ready_since_ms >= b.crashes_after_ms)
        p.running = false;
      v.health = p.running && b.healthy ? "healthy" : "unhealthy";
      v.usable = v.state == "ready" && v.health == "healthy";
      v.ejected = v.state == "ready" && b.ejected;
    }
  }

  void check() {
    const auto& r = cfg.rollout;
    int consumers = 0, capacity = 0;
    for (const auto& i : state.instances)
      if (i.phase != Phase::kParked && i.phase != Phase::kStopped) ++consumers;
    for (const auto& [id, v] : proxy)
      if (v.state == "ready" && procs[id].running && behaviour(procs[id].version).healthy)
        ++capacity;
    const bool rolling_back = state.rollout && state.rollout->rollingBack();
    const bool active = state.rollout && state.rollout->active();
    if (active && !rolling_back && consumers > static_cast<int>(cfg.instances.count + r.max_surge))
      violations.push_back("more than count + max_surge instances at " + std::to_string(now) +
                           ": " + describe());
    if (capacity_promised && capacity < static_cast<int>(cfg.instances.count - r.max_unavailable) &&
        !rolling_back && !proxy_down)
      violations.push_back("capacity fell to " + std::to_string(capacity) + " at " +
                           std::to_string(now));
  }
};

// A world whose release "1" is up: three instances serving.
World withRelease() {
  World w;
  w.deploy("1", RolloutKind::kInitial);
  EXPECT_TRUE(w.runToEnd());
  EXPECT_EQ(w.state.rollout->status, RolloutStatus::kSucceeded);
  w.capacity_promised = true;
  return w;
}

TEST(RolloutStep, InitialReleaseBringsUpEveryInstanceWithoutAWatch) {
  World w;
  w.deploy("1", RolloutKind::kInitial);
  ASSERT_TRUE(w.runToEnd());
  EXPECT_EQ(w.state.rollout->status, RolloutStatus::kSucceeded);
  EXPECT_EQ(w.state.rollout->watch_until_ms, 0) << "the initial release is not watched";
  EXPECT_EQ(w.state.current_version, "1");
  EXPECT_EQ(w.phaseCount("1", Phase::kServing), 3);
  EXPECT_EQ(w.readyInProxy("1"), 3);
  ASSERT_EQ(w.state.history.size(), 1u);
  EXPECT_EQ(w.state.history[0].outcome, RolloutStatus::kSucceeded);
  EXPECT_TRUE(w.violations.empty()) << w.violations[0];
}

TEST(RolloutStep, RollingDeployKeepsCapacityAndNeverStopsAnInstanceInTraffic) {
  World w = withRelease();
  w.deploy("2");
  bool watched = false;
  for (int k = 0; k < 1000 && w.state.rollout->active(); ++k) {
    w.tick();
    watched |= w.state.rollout->status == RolloutStatus::kWatching;
  }
  w.tick();  // the last step's actions reach the proxy
  EXPECT_EQ(w.state.rollout->status, RolloutStatus::kSucceeded);
  EXPECT_TRUE(watched) << "a deploy is watched for watch_window before it succeeds";
  EXPECT_EQ(w.state.current_version, "2");
  EXPECT_EQ(w.readyInProxy("2"), 3);
  EXPECT_EQ(w.readyInProxy("1"), 0);
  // The old instances leave the proxy and then stop, and the next ticks forget them.
  ASSERT_TRUE(w.runUntil([&] { return w.state.instances.size() == 3; }));
  EXPECT_EQ(w.proxy.size(), 3u);
  for (const auto& [id, p] : w.procs) EXPECT_EQ(p.running, p.version == "2") << id;
  EXPECT_TRUE(w.violations.empty()) << w.violations[0];
}

TEST(RolloutStep, VersionThatCrashesInTrafficRollsBackToTheParkedInstances) {
  World w = withRelease();
  w.behaviour = [](const std::string& v) {
    Behaviour b;
    if (v == "2") b.crashes_after_ms = 600;
    return b;
  };
  w.deploy("2");
  ASSERT_TRUE(w.runToEnd());
  const Rollout& r = *w.state.rollout;
  EXPECT_EQ(r.status, RolloutStatus::kRolledBack);
  EXPECT_NE(r.reason.find("crashed"), std::string::npos) << r.reason;
  EXPECT_EQ(w.state.current_version, "1");
  EXPECT_EQ(w.readyInProxy("2"), 0) << w.describe();
  EXPECT_EQ(w.readyInProxy("1"), 3);
  // Out of traffic within a few rounds of the decision, in simulated time.
  ASSERT_GT(r.out_of_traffic_ms, 0);
  EXPECT_LE(r.out_of_traffic_ms - r.rollback_started_ms, 3 * kTickMs);
  EXPECT_NE(std::find_if(w.audit.begin(), w.audit.end(),
                         [](const AuditEntry& e) { return e.action == "rollback"; }),
            w.audit.end());
  EXPECT_EQ(w.state.history.front().outcome, RolloutStatus::kRolledBack);
}

TEST(RolloutStep, VersionThatNeverPassesItsProbeFailsTheGateAndTakesNoTraffic) {
  World w = withRelease();
  w.behaviour = [](const std::string& v) {
    Behaviour b;
    b.healthy = v != "2";
    return b;
  };
  w.deploy("2");
  ASSERT_TRUE(w.runToEnd());
  EXPECT_EQ(w.state.rollout->status, RolloutStatus::kRolledBack);
  EXPECT_NE(w.state.rollout->reason.find("health gate"), std::string::npos)
      << w.state.rollout->reason;
  EXPECT_NE(w.state.rollout->reason.find("HTTP 503"), std::string::npos)
      << "the gate's failure says what the probe saw: " << w.state.rollout->reason;
  EXPECT_EQ(w.ever_ready.count("2"), 0u);
  EXPECT_TRUE(w.violations.empty()) << w.violations[0];
}

TEST(RolloutStep, InstanceTheProxyEjectsRollsTheRolloutBack) {
  World w = withRelease();
  w.behaviour = [](const std::string& v) {
    Behaviour b;
    b.ejected = v == "2";
    return b;
  };
  w.deploy("2");
  ASSERT_TRUE(w.runToEnd());
  EXPECT_EQ(w.state.rollout->status, RolloutStatus::kRolledBack);
  EXPECT_NE(w.state.rollout->reason.find("ejected"), std::string::npos) << w.state.rollout->reason;
}

TEST(RolloutStep, ErrorRateFailsTheAnalysisForFailingIntervalsInARow) {
  World w = withRelease();
  w.cfg.rollout.bake_time = config::Duration(60000);  // the analysis decides, not the bake
  w.behaviour = [](const std::string& v) {
    Behaviour b;
    if (v == "2") b.error_rate = 0.5;
    return b;
  };
  w.deploy("2");
  std::vector<uint32_t> streaks;
  for (int k = 0; k < 1000 && w.state.rollout->active() && !w.state.rollout->rollingBack(); ++k) {
    w.tick();
    if (streaks.empty() || streaks.back() != w.state.rollout->failing_streak)
      streaks.push_back(w.state.rollout->failing_streak);
  }
  ASSERT_TRUE(w.state.rollout->rollingBack());
  EXPECT_EQ(streaks, (std::vector<uint32_t>{0, 1, 2, 3}));
  EXPECT_NE(w.state.rollout->reason.find("analysis: "), std::string::npos);
  EXPECT_NE(w.state.rollout->reason.find("3 intervals in a row"), std::string::npos);
  ASSERT_TRUE(w.runToEnd());
  EXPECT_EQ(w.state.rollout->status, RolloutStatus::kRolledBack);
}

TEST(RolloutStep, AutoRollbackOffPausesTheRolloutInstead) {
  World w = withRelease();
  w.cfg.rollout.auto_rollback = false;
  w.behaviour = [](const std::string& v) {
    Behaviour b;
    if (v == "2") b.crashes_after_ms = 200;
    return b;
  };
  w.deploy("2");
  ASSERT_TRUE(w.runUntil([&] { return w.state.rollout->status == RolloutStatus::kPaused; }));
  EXPECT_NE(w.state.rollout->reason.find("auto_rollback is off"), std::string::npos);
  const size_t instances = w.state.instances.size();
  for (int k = 0; k < 20; ++k) w.tick();
  EXPECT_EQ(w.state.rollout->status, RolloutStatus::kPaused) << "paused until someone decides";
  EXPECT_LE(w.state.instances.size(), instances) << "a paused rollout starts nothing";
  EXPECT_EQ(w.audit.back().action, "pause");
}

TEST(RolloutStep, FirstStepApprovalStartsNothingUntilApproved) {
  World w = withRelease();
  w.cfg.rollout.approval = config::ApprovalMode::kFirstStep;
  w.deploy("2");
  w.tick();
  EXPECT_EQ(w.state.rollout->status, RolloutStatus::kWaitingApproval);
  EXPECT_TRUE(w.state.rollout->awaiting_approval);
  for (int k = 0; k < 10; ++k) w.tick();
  EXPECT_EQ(w.phaseCount("2", Phase::kStarting), 0);
  // What POST /v1/rollout/approve does.
  ++w.state.rollout->approvals;
  w.state.rollout->awaiting_approval = false;
  w.state.rollout->status = RolloutStatus::kRunning;
  ASSERT_TRUE(w.runToEnd());
  EXPECT_EQ(w.state.rollout->status, RolloutStatus::kSucceeded);
}

TEST(RolloutStep, DrainIsConfirmedOnlyByEveryProxy) {
  World w = withRelease();
  w.deploy("2");
  ASSERT_TRUE(w.runUntil([&] { return w.phaseCount("1", Phase::kDraining) > 0; }));
  w.proxy_down = true;
  for (int k = 0; k < 10; ++k) w.tick();
  EXPECT_EQ(w.phaseCount("1", Phase::kDraining), 1) << "no proxy view, no confirmed drain";
  EXPECT_EQ(w.phaseCount("1", Phase::kParked), 0);
  auto draining = std::find_if(w.state.instances.begin(), w.state.instances.end(),
                               [](const Instance& i) { return i.phase == Phase::kDraining; });
  EXPECT_NE(draining->note.find("waiting for every proxy to confirm the drain"), std::string::npos)
      << draining->note;
  w.proxy_down = false;
  ASSERT_TRUE(w.runToEnd());
  EXPECT_EQ(w.state.rollout->status, RolloutStatus::kSucceeded);
}

TEST(RolloutStep, StartFailureFailsTheInstanceAndTheRollout) {
  World w = withRelease();
  w.behaviour = [](const std::string& v) {
    Behaviour b;
    b.starts = v != "2";
    return b;
  };
  w.deploy("2");
  ASSERT_TRUE(w.runToEnd());
  EXPECT_EQ(w.state.rollout->status, RolloutStatus::kRolledBack);
  EXPECT_NE(w.state.rollout->reason.find("start failed: command exited with status 127"),
            std::string::npos)
      << w.state.rollout->reason;
  EXPECT_EQ(w.readyInProxy("1"), 3);
}

TEST(RolloutStep, AbortEndsAborted) {
  World w = withRelease();
  w.deploy("2");
  ASSERT_TRUE(w.runUntil([&] { return w.phaseCount("2", Phase::kBaking) > 0; }));
  Actions out;
  beginRollback(w.cfg, w.state, "aborted by alice", "alice", true, w.now, out);
  ASSERT_EQ(out.audit.size(), 1u);
  EXPECT_EQ(out.audit[0],
            (AuditEntry{"alice", "abort", "r-2", "aborted by alice", "rolling_back"}));
  ASSERT_TRUE(w.runToEnd());
  EXPECT_EQ(w.state.rollout->status, RolloutStatus::kAborted);
  EXPECT_EQ(w.state.current_version, "1");
  EXPECT_EQ(w.readyInProxy("2"), 0);
}

TEST(RolloutStep, ProxyFailuresBecomeTheInstancesNotesAndAreRetried) {
  World w = withRelease();
  w.deploy("2");
  ASSERT_TRUE(w.runUntil([&] { return w.phaseCount("2", Phase::kGating) > 0; }));
  w.fleet_refuses = true;
  for (int k = 0; k < 5; ++k) w.tick();
  auto gating = std::find_if(w.state.instances.begin(), w.state.instances.end(),
                             [](const Instance& i) { return i.version == "2"; });
  EXPECT_NE(gating->note.find("HTTP 500 refused"), std::string::npos) << gating->note;
  w.fleet_refuses = false;
  ASSERT_TRUE(w.runToEnd());
  EXPECT_EQ(w.state.rollout->status, RolloutStatus::kSucceeded);
}

TEST(RolloutStep, ProbesGoOnlyToStartingInstancesWithAnAddress) {
  World w;
  w.deploy("1", RolloutKind::kInitial);
  Observation obs;
  obs.now_ms = w.now;
  obs.fleet.proxies = 1;
  Actions a = step(w.cfg, obs, w.state, w.memory);
  ASSERT_EQ(a.start.size(), 3u) << "an empty fleet has nothing to keep: all at once";
  EXPECT_TRUE(a.probes.empty()) << "no address before the driver started it";
  const std::string first = a.start[0];
  w.state.find(first)->address = "127.0.0.1:9101";
  a = step(w.cfg, obs, w.state, w.memory);
  EXPECT_TRUE(a.start.empty()) << "the starting instances count";
  EXPECT_EQ(a.probes, (std::vector<Probe>{{first, "127.0.0.1:9101"}}));
}

TEST(RolloutStep, StatusAndKindNamesRoundTrip) {
  for (auto s : {RolloutStatus::kWaitingApproval, RolloutStatus::kRunning, RolloutStatus::kPaused,
                 RolloutStatus::kWatching, RolloutStatus::kRollingBack, RolloutStatus::kSucceeded,
                 RolloutStatus::kRolledBack, RolloutStatus::kAborted, RolloutStatus::kFailed})
    EXPECT_EQ(parseRolloutStatus(rolloutStatusName(s)), s);
  for (auto k : {RolloutKind::kDeploy, RolloutKind::kRollback, RolloutKind::kInitial})
    EXPECT_EQ(parseRolloutKind(rolloutKindName(k)), k);
  EXPECT_FALSE(parseRolloutStatus("done"));
  EXPECT_TRUE(isActive(RolloutStatus::kRollingBack));
  EXPECT_FALSE(isActive(RolloutStatus::kRolledBack));
}

}  // namespace
}  // namespace lb::controlplane
