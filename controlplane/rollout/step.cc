#include "controlplane/rollout/step.h"

#include <algorithm>

#include "controlplane/rollout/analysis.h"
#include "controlplane/rollout/planner.h"

namespace lb::controlplane {

namespace {

// One step's work: the inputs, the state it moves and the actions it collects.
class Stepper {
 public:
  Stepper(const config::ControlConfig& cfg, const Observation& obs, ControlState& state,
          StepMemory& memory, Actions& out)
      : cfg_(cfg), obs_(obs), state_(state), memory_(memory), out_(out), now_(obs.now_ms) {}

  void run() {
    for (const auto& [id, failure] : obs_.fleet_failures)
      if (Instance* i = state_.find(id)) i->note = failure;
    for (const auto& [id, why] : obs_.start_failures)
      if (Instance* i = state_.find(id); i && i->phase == Phase::kStarting)
        fail(*i, "start failed: " + why);
    for (size_t k = 0; k < state_.instances.size(); ++k) advance(state_.instances[k]);
    if (rolloutActive()) {
      analyse();
      drive();
    } else {
      reconcileIdle();
    }
    if (!rolloutActive())
      std::erase_if(state_.instances, [](const Instance& i) { return i.phase == Phase::kStopped; });
  }

 private:
  bool rolloutActive() const { return state_.rollout && state_.rollout->active(); }

  Liveness liveness(const Instance& inst, std::string* why) const {
    if (inst.phase == Phase::kStopped) return Liveness::kExited;
    auto it = obs_.liveness.find(inst.id);
    if (it == obs_.liveness.end()) return Liveness::kUnknown;
    *why = it->second.why;
    return it->second.liveness;
  }

  void setPhase(Instance& inst, Phase phase) {
    inst.phase = phase;
    inst.phase_since_ms = now_;
  }

  void fleet(FleetAction::Kind kind, const Instance& inst) {
    FleetAction a;
    a.kind = kind;
    a.id = inst.id;
    if (kind == FleetAction::Kind::kAdd) {
      // In drain: health-checked by the proxies, but no traffic until the gate passes.
      a.address = inst.address;
      a.labels = {{cfg_.version_label, inst.version}, {"managed_by", "lbcontrol"}};
    }
    out_.fleet.push_back(std::move(a));
  }
  void drainWithDeadline(const Instance& inst) {
    fleet(FleetAction::Kind::kDrain, inst);
    out_.fleet.back().drain_deadline_ms = static_cast<uint32_t>(cfg_.rollout.drain_timeout.count());
  }

  void fail(Instance& inst, const std::string& why) {
    const bool was_in_proxies = inst.phase != Phase::kStarting;
    inst.note = why;
    out_.log.push_back("instance " + inst.id + " (" + inst.version + ") failed: " + why);
    setPhase(inst, Phase::kFailed);
    if (was_in_proxies) fleet(FleetAction::Kind::kDrain, inst);  // out of traffic at once
    Rollout* r = state_.rollout ? &*state_.rollout : nullptr;
    if (r && r->active() && !r->rollingBack() && inst.version == r->version)
      beginRollback(cfg_, state_, "instance " + inst.id + " failed: " + why, "lbcontrol", false,
                    now_, out_);
  }

  void advance(Instance& inst) {
    const auto& gate = cfg_.rollout.health_gate;
    const FleetView& view = obs_.fleet;
    std::string why;
    const Liveness live = liveness(inst, &why);
    switch (inst.phase) {
      case Phase::kStarting: {
        if (live == Liveness::kExited) return fail(inst, "exited while starting: " + why);
        if (now_ - inst.started_ms > gate.deadline.count())
          return fail(inst, "health gate: not healthy within " +
                                std::to_string(gate.deadline.count() / 1000) + "s (" + inst.note +
                                ")");
        if (auto p = obs_.probes.find(inst.id); p != obs_.probes.end()) {
          if (p->second.passed) {
            ++inst.probe_passes;
          } else {
            inst.probe_passes = 0;
            inst.note = "probe " + gate.path + ": " + p->second.failure;
          }
        }
        if (inst.probe_passes >= gate.checks) {
          inst.note.clear();
          setPhase(inst, Phase::kGating);
          fleet(FleetAction::Kind::kAdd, inst);
        } else if (!inst.address.empty()) {
          out_.probes.push_back({inst.id, inst.address});
        }
        return;
      }
      case Phase::kGating: {
        if (live == Liveness::kExited) return fail(inst, "exited during its health gate: " + why);
        if (now_ - inst.started_ms > gate.deadline.count())
          return fail(inst, "health gate: the proxies did not see it healthy within " +
                                std::to_string(gate.deadline.count() / 1000) + "s");
        if (!view.complete()) return;
        if (!view.all(inst.id, [](const HostView&) { return true; }))
          return fleet(FleetAction::Kind::kAdd, inst);
        const bool healthy =
            view.all(inst.id, [](const HostView& v) { return v.health == "healthy"; });
        if (!healthy) {
          inst.healthy_since_ms = 0;
          return;
        }
        if (inst.healthy_since_ms == 0) inst.healthy_since_ms = now_;
        if (now_ - inst.healthy_since_ms < gate.min_healthy_time.count()) return;
        inst.traffic_since_ms = now_;
        setPhase(inst, Phase::kBaking);
        fleet(FleetAction::Kind::kReady, inst);
        if (rolloutActive() && inst.version == state_.rollout->version &&
            state_.rollout->first_traffic_ms == 0)
          state_.rollout->first_traffic_ms = now_;
        return;
      }
      case Phase::kBaking:
      case Phase::kServing: {
        if (live == Liveness::kExited) return fail(inst, "crashed: " + why);
        if (view.complete() &&
            !view.all(inst.id, [](const HostView& v) { return v.state == "ready"; }))
          fleet(FleetAction::Kind::kReady, inst);
        if (inst.phase == Phase::kBaking &&
            now_ - inst.phase_since_ms >= cfg_.rollout.bake_time.count())
          setPhase(inst, Phase::kServing);
        return;
      }
      case Phase::kDraining: {
        if (!view.complete()) {
          inst.note = "waiting for every proxy to confirm the drain: " + view.errors[0];
          return;
        }
        if (view.absentEverywhere(inst.id) ||
            view.all(inst.id, [](const HostView& v) { return v.drained; })) {
          inst.note.clear();
          setPhase(inst, Phase::kParked);
          return;
        }
        if (!view.all(inst.id, [](const HostView& v) { return v.state != "ready"; }))
          drainWithDeadline(inst);
        return;
      }
      case Phase::kParked:
        if (live == Liveness::kExited) {
          inst.note = "exited while parked: " + why;
          setPhase(inst, Phase::kStopping);
        }
        return;
      case Phase::kFailed:
        return;  // the planner stops it
      case Phase::kStopping: {
        // Never stop an instance that may still take requests: out of every proxy first.
        if (!view.complete()) return;
        if (!view.absentEverywhere(inst.id)) {
          if (view.all(inst.id, [](const HostView& v) { return v.drained; }) ||
              live == Liveness::kExited)
            fleet(FleetAction::Kind::kRemove, inst);
          else
            drainWithDeadline(inst);
          return;
        }
        if (live == Liveness::kExited)
          setPhase(inst, Phase::kStopped);
        else
          out_.stop.push_back(inst.id);
        return;
      }
      case Phase::kStopped:
        return;
    }
  }

  void analyse() {
    Rollout& r = *state_.rollout;
    if (r.rollingBack()) return;
    std::vector<const Instance*> candidates, baseline;
    int64_t newest_traffic_ms = 0;
    for (const auto& i : state_.instances) {
      if (!inTraffic(i.phase)) continue;
      (i.version == r.version ? candidates : baseline).push_back(&i);
      if (i.version == r.version)
        newest_traffic_ms = std::max(newest_traffic_ms, i.traffic_since_ms);
    }
    if (memory_.pending_window_s != 0 && obs_.traffic) {
      const uint32_t window_s = std::exchange(memory_.pending_window_s, 0);
      if (!candidates.empty()) judge(*obs_.traffic, window_s, candidates, baseline);
      return;
    }
    if (now_ < memory_.next_analysis_ms) return;
    const auto& an = cfg_.rollout.analysis;
    memory_.next_analysis_ms = now_ + an.interval.count();
    if (candidates.empty()) return;
    // What the proxies already concluded needs no statistics: a new instance that they eject
    // for consecutive failures, or whose health checks fail, fails the rollout now.
    for (const Instance* c : candidates) {
      auto it = obs_.fleet.hosts.find(c->id);
      if (it == obs_.fleet.hosts.end()) continue;
      for (const auto& v : it->second) {
        if (v.ejected)
          return beginRollback(cfg_, state_,
                               "instance " + c->id + " was ejected by a proxy's outlier detection",
                               "lbcontrol", false, now_, out_);
        if (v.health == "unhealthy")
          return beginRollback(cfg_, state_,
                               "instance " + c->id + " failed the proxies' health checks",
                               "lbcontrol", false, now_, out_);
      }
    }
    // The window grows from the newest candidate's first request (up to a minute): with slow
    // start a new instance gets little traffic at first, and a short window would never hold
    // enough.
    const int64_t interval_s = an.interval.count() / 1000;
    const auto window_s = static_cast<uint32_t>(
        std::clamp<int64_t>((now_ - newest_traffic_ms) / 1000, interval_s, 60));
    memory_.pending_window_s = window_s;
    out_.traffic_window_s = window_s;
  }

  void judge(const TrafficView& traffic, uint32_t window_s,
             const std::vector<const Instance*>& candidates,
             const std::vector<const Instance*>& baseline) {
    Rollout& r = *state_.rollout;
    const auto& an = cfg_.rollout.analysis;
    auto sum = [&](const std::vector<const Instance*>& set) {
      VersionWindow w;
      for (const Instance* i : set) {
        auto it = traffic.hosts.find(i->id);
        if (it == traffic.hosts.end()) continue;
        w.requests += it->second.requests;
        w.errors += it->second.errors;
        w.p99_ms = std::max(w.p99_ms, it->second.p99_ms);
      }
      return w;
    };
    std::optional<VersionWindow> base;
    if (!baseline.empty()) base = sum(baseline);
    config::AnalysisConfig over = an;
    over.interval = std::chrono::seconds(window_s);
    Judgement j = controlplane::judge(sum(candidates), base, over, traffic.slo_p99_ms);
    FailureStreak streak(an.failing_intervals, r.failing_streak);
    const bool failed = streak.add(j);
    r.last_analysis = j.text;
    r.failing_streak = streak.count();
    if (failed)
      beginRollback(cfg_, state_,
                    "analysis: " + j.text + ", " + std::to_string(an.failing_intervals) +
                        " intervals in a row",
                    "lbcontrol", false, now_, out_);
  }

  bool approvalNeeded() const {
    const Rollout& r = *state_.rollout;
    if (r.kind == RolloutKind::kInitial) return false;
    switch (cfg_.rollout.approval) {
      case config::ApprovalMode::kNone:
        return false;
      case config::ApprovalMode::kFirstStep:
        return r.approvals == 0;
      case config::ApprovalMode::kEveryStep:
        return r.approvals <= r.steps_started;
    }
    return false;
  }

  PlanInput planInput(const std::string& target, uint32_t count, bool emergency) const {
    PlanInput in;
    in.target_version = target;
    in.count = count;
    in.max_surge = cfg_.rollout.max_surge;
    in.max_unavailable = cfg_.rollout.max_unavailable;
    in.emergency = emergency;
    for (const auto& i : state_.instances)
      if (i.phase != Phase::kStopped) in.fleet.push_back(i);
    return in;
  }

  void drive() {
    Rollout& r = *state_.rollout;
    const bool rolling_back = r.rollingBack();
    if (r.status == RolloutStatus::kPaused) return;
    const PlanInput in =
        planInput(r.target(), rolling_back && r.from_version.empty() ? 0 : cfg_.instances.count,
                  rolling_back);
    const Plan p = plan(in);

    for (const auto& id : p.stop)
      if (Instance* i = state_.find(id)) setPhase(*i, Phase::kStopping);
    for (const auto& id : p.unpark) {
      Instance* i = state_.find(id);
      if (!i) continue;
      i->traffic_since_ms = now_;
      setPhase(*i, Phase::kServing);  // known-good: it served before it was parked
      fleet(FleetAction::Kind::kReady, *i);
    }
    for (const auto& id : p.drain) {
      Instance* i = state_.find(id);
      if (!i) continue;
      setPhase(*i, Phase::kDraining);
      drainWithDeadline(*i);
    }
    if (rolling_back && r.out_of_traffic_ms == 0 &&
        std::none_of(state_.instances.begin(), state_.instances.end(), [&](const Instance& i) {
          return i.version == r.version && (inTraffic(i.phase) || i.phase == Phase::kGating);
        }))
      r.out_of_traffic_ms = now_;
    for (uint32_t k = 0; k < p.start; ++k) {
      if (!rolling_back && approvalNeeded()) {
        r.status = RolloutStatus::kWaitingApproval;
        r.awaiting_approval = true;
        break;
      }
      startInstance(in.target_version);
    }
    if (!p.complete) return;
    if (rolling_back)
      return finish(r.aborting ? RolloutStatus::kAborted : RolloutStatus::kRolledBack);
    if (r.status == RolloutStatus::kWatching) {
      if (now_ >= r.watch_until_ms) finish(RolloutStatus::kSucceeded);
      return;
    }
    if (cfg_.rollout.watch_window.count() > 0 && r.kind != RolloutKind::kInitial) {
      r.status = RolloutStatus::kWatching;
      r.watch_until_ms = now_ + cfg_.rollout.watch_window.count();
      return;
    }
    finish(RolloutStatus::kSucceeded);
  }

  void reconcileIdle() {
    if (state_.current_version.empty()) return;
    const Plan p = plan(planInput(state_.current_version, cfg_.instances.count, false));
    // Keeps the release whole between rollouts: replaces crashed instances, stops leftovers.
    for (const auto& id : p.stop)
      if (Instance* i = state_.find(id)) setPhase(*i, Phase::kStopping);
    for (auto& i : state_.instances)
      if (i.phase == Phase::kParked) setPhase(i, Phase::kStopping);
    for (uint32_t k = 0; k < p.start; ++k) startInstance(state_.current_version);
  }

  void startInstance(const std::string& version) {
    Instance inst;
    inst.id = cfg_.instances.id_prefix + "-" + std::to_string(state_.next_instance++);
    inst.version = version;
    inst.phase = Phase::kStarting;
    inst.phase_since_ms = now_;
    inst.started_ms = now_;
    out_.start.push_back(inst.id);
    state_.instances.push_back(std::move(inst));
    Rollout* r = state_.rollout ? &*state_.rollout : nullptr;
    if (r && r->active() && version == r->version && !r->rollingBack()) ++r->steps_started;
  }

  void finish(RolloutStatus outcome) {
    Rollout& r = *state_.rollout;
    r.status = outcome;
    r.ended_ms = now_;
    r.awaiting_approval = false;
    if (outcome == RolloutStatus::kSucceeded) state_.current_version = r.version;
    state_.history.push_front({r.version, r.id, r.created_ms, now_, outcome, r.reason});
    while (state_.history.size() > cfg_.rollout.history) state_.history.pop_back();
    for (auto& i : state_.instances)
      if (i.phase == Phase::kParked) i.phase = Phase::kStopping;  // no longer needed
    out_.audit.push_back({"lbcontrol", "finish", r.id, r.reason, rolloutStatusName(outcome)});
    out_.log.push_back("rollout " + r.id + " of " + r.version + ": " + rolloutStatusName(outcome));
  }

  const config::ControlConfig& cfg_;
  const Observation& obs_;
  ControlState& state_;
  StepMemory& memory_;
  Actions& out_;
  const int64_t now_;
};

}  // namespace

Actions step(const config::ControlConfig& cfg, const Observation& obs, ControlState& state,
             StepMemory& memory) {
  Actions out;
  Stepper(cfg, obs, state, memory, out).run();
  return out;
}

AuditEntry openRollout(const config::ControlConfig& cfg, ControlState& state, StepMemory& memory,
                       const std::string& version, RolloutKind kind, const std::string& who,
                       const std::string& reason, int64_t now) {
  Rollout r;
  r.id = "r-" + std::to_string(state.next_rollout++);
  r.kind = kind;
  r.version = version;
  r.from_version = state.current_version;
  r.requested_by = who;
  r.request_reason = reason;
  r.created_ms = now;
  r.steps_total = cfg.instances.count;
  state.rollout = std::move(r);
  memory = {};
  return {who, kind == RolloutKind::kInitial ? "deploy" : rolloutKindName(kind), version, reason,
          state.rollout->id};
}

void beginRollback(const config::ControlConfig& cfg, ControlState& state, const std::string& reason,
                   const std::string& who, bool abort, int64_t now, Actions& out) {
  Rollout& r = *state.rollout;
  if (!abort && who == "lbcontrol" && !cfg.rollout.auto_rollback) {
    if (r.status == RolloutStatus::kPaused) return;
    r.status = RolloutStatus::kPaused;
    r.paused = true;
    r.reason = reason + " (auto_rollback is off: rollback, abort or resume)";
    out.audit.push_back({who, "pause", r.id, r.reason, "paused"});
    return;
  }
  r.status = RolloutStatus::kRollingBack;
  r.reason = reason;
  r.aborting = abort;
  r.paused = false;
  r.awaiting_approval = false;
  r.rollback_started_ms = now;
  out.audit.push_back({who, abort ? "abort" : "rollback", r.id, reason, "rolling_back"});
  out.log.push_back("rollout " + r.id + " of " + r.version + ": rolling back: " + reason);
}

}  // namespace lb::controlplane
