#include "controlplane/rollout/engine.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "common/http_client.h"
#include "config/values.h"
#include "controlplane/rollout/analysis.h"
#include "controlplane/rollout/planner.h"

namespace lb::controlplane {

using nlohmann::json;

namespace {

constexpr std::chrono::milliseconds kTick{200};

bool portBindable(const std::string& host, uint16_t port) {
  auto hp = config::parseHostPort(
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port),
      false);
  if (!hp) return false;
  int fd = socket(hp->ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  bool ok;
  if (hp->ipv6) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    inet_pton(AF_INET6, hp->host.c_str(), &a.sin6_addr);
    ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, hp->host.c_str(), &a.sin_addr);
    ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  close(fd);
  return ok;
}

}  // namespace

Engine::Engine(const config::ControlConfig& cfg, common::EventLoop& loop,
               std::unique_ptr<Driver> driver)
    : cfg_(cfg),
      loop_(loop),
      timer_(loop, [this] { tick(); }),
      driver_(std::move(driver)),
      fleet_(cfg),
      journal_(cfg.state_dir) {}

Engine::~Engine() = default;

bool Engine::start(std::string* error) {
  if (!fleet_.setupErrors().empty()) {
    *error = fleet_.setupErrors()[0];
    return false;
  }
  if (!journal_.open(&state_, error)) return false;
  const int64_t now = nowMs();
  // A start that was journaled but whose pid was not: the child wrote its pid file first.
  for (auto& inst : state_.instances) {
    if (inst.phase != Phase::kStarting || inst.pid != 0) continue;
    if (int pid = driver_->recordedPid(inst.id)) inst.pid = pid;
  }
  if (!state_.rollout || !state_.rollout->active()) {
    if (state_.current_version.empty() && !cfg_.instances.initial_version.empty()) {
      Rollout r;
      r.id = "r-" + std::to_string(state_.next_rollout++);
      r.kind = "initial";
      r.version = cfg_.instances.initial_version;
      r.requested_by = "lbcontrol";
      r.request_reason = "instances.initial_version";
      r.created_ms = now;
      r.steps_total = cfg_.instances.count;
      state_.rollout = r;
      journal_.audit("lbcontrol", "deploy", r.version, r.request_reason, r.id);
    }
  }
  commit();
  timer_.start(std::chrono::milliseconds(0));
  return true;
}

void Engine::commit() {
  std::string err;
  if (!journal_.save(state_, &err)) std::fprintf(stderr, "lbcontrol: journal: %s\n", err.c_str());
}

void Engine::setPhase(Instance& inst, Phase phase, int64_t now) {
  inst.phase = phase;
  inst.phase_since_ms = now;
  commit();  // before the action that follows it: a restart must know what may have happened
}

void Engine::fail(Instance& inst, const std::string& why, int64_t now) {
  const bool was_in_proxies = inst.phase != Phase::kStarting;
  inst.note = why;
  std::fprintf(stderr, "lbcontrol: instance %s (%s) failed: %s\n", inst.id.c_str(),
               inst.version.c_str(), why.c_str());
  setPhase(inst, Phase::kFailed, now);
  if (was_in_proxies) fleet_.setState(inst.id, "drain");  // out of traffic at once
  Rollout* r = state_.rollout ? &*state_.rollout : nullptr;
  if (r && r->active() && r->status != "rolling_back" && inst.version == r->version)
    beginRollback("instance " + inst.id + " failed: " + why, "lbcontrol", false, now);
}

void Engine::addToProxies(Instance& inst) {
  // In drain: health-checked by the proxies, but no traffic until the gate passes.
  std::map<std::string, std::string> labels{{cfg_.version_label, inst.version},
                                            {"managed_by", "lbcontrol"}};
  if (std::string err = fleet_.addHost(inst.id, inst.address, labels, "drain"); !err.empty())
    inst.note = err;
}

void Engine::tick() {
  driver_->poll();
  last_view_ = fleet_.observe();
  const int64_t now = nowMs();
  for (size_t k = 0; k < state_.instances.size(); ++k)
    advance(state_.instances[k], last_view_, now);
  if (state_.rollout && state_.rollout->active()) {
    analyse(now);
    drive(now);
  } else {
    reconcileIdle(now);
  }
  if (!(state_.rollout && state_.rollout->active())) {
    auto gone = std::remove_if(state_.instances.begin(), state_.instances.end(),
                               [](const Instance& i) { return i.phase == Phase::kStopped; });
    if (gone != state_.instances.end()) {
      state_.instances.erase(gone, state_.instances.end());
      commit();
    }
  }
  timer_.start(kTick);
}

void Engine::advance(Instance& inst, const FleetView& view, int64_t now) {
  const auto& gate = cfg_.rollout.health_gate;
  std::string why;
  const Liveness live =
      inst.phase == Phase::kStopped ? Liveness::kExited : driver_->liveness(inst, &why);
  switch (inst.phase) {
    case Phase::kStarting: {
      if (live == Liveness::kExited) return fail(inst, "exited while starting: " + why, now);
      if (now - inst.started_ms > gate.deadline.count())
        return fail(inst,
                    "health gate: not healthy within " +
                        std::to_string(gate.deadline.count() / 1000) + "s (" + inst.note + ")",
                    now);
      common::HttpCall probe;
      probe.address = inst.address;
      probe.target = gate.path;
      probe.timeout = std::chrono::milliseconds(1000);
      common::HttpResult r = common::httpCall(probe);
      if (r.answered() && r.status >= 200 && r.status < 400) {
        ++inst.probe_passes;
      } else {
        inst.probe_passes = 0;
        inst.note = "probe " + gate.path + ": " +
                    (r.answered() ? "HTTP " + std::to_string(r.status) : r.error);
      }
      if (inst.probe_passes >= gate.checks) {
        inst.note.clear();
        setPhase(inst, Phase::kGating, now);
        addToProxies(inst);
      }
      return;
    }
    case Phase::kGating: {
      if (live == Liveness::kExited)
        return fail(inst, "exited during its health gate: " + why, now);
      if (now - inst.started_ms > gate.deadline.count())
        return fail(inst,
                    "health gate: the proxies did not see it healthy within " +
                        std::to_string(gate.deadline.count() / 1000) + "s",
                    now);
      if (!view.complete()) return;
      if (!view.all(inst.id, [](const HostView&) { return true; })) return addToProxies(inst);
      const bool healthy =
          view.all(inst.id, [](const HostView& v) { return v.health == "healthy"; });
      if (!healthy) {
        inst.healthy_since_ms = 0;
        return;
      }
      if (inst.healthy_since_ms == 0) inst.healthy_since_ms = now;
      if (now - inst.healthy_since_ms < gate.min_healthy_time.count()) return;
      inst.traffic_since_ms = now;
      setPhase(inst, Phase::kBaking, now);
      if (std::string err = fleet_.setState(inst.id, "ready"); !err.empty()) inst.note = err;
      if (state_.rollout && state_.rollout->active() && inst.version == state_.rollout->version &&
          state_.rollout->first_traffic_ms == 0) {
        state_.rollout->first_traffic_ms = now;
        commit();
      }
      return;
    }
    case Phase::kBaking:
    case Phase::kServing: {
      if (live == Liveness::kExited) return fail(inst, "crashed: " + why, now);
      if (view.complete() &&
          !view.all(inst.id, [](const HostView& v) { return v.state == "ready"; }))
        if (std::string err = fleet_.setState(inst.id, "ready"); !err.empty()) inst.note = err;
      if (inst.phase == Phase::kBaking &&
          now - inst.phase_since_ms >= cfg_.rollout.bake_time.count())
        setPhase(inst, Phase::kServing, now);
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
        setPhase(inst, Phase::kParked, now);
        return;
      }
      if (!view.all(inst.id, [](const HostView& v) { return v.state != "ready"; }))
        fleet_.setState(inst.id, "drain",
                        static_cast<uint32_t>(cfg_.rollout.drain_timeout.count()));
      return;
    }
    case Phase::kParked:
      if (live == Liveness::kExited) {
        inst.note = "exited while parked: " + why;
        setPhase(inst, Phase::kStopping, now);
      }
      return;
    case Phase::kFailed:
      return;  // the planner stops it
    case Phase::kStopping: {
      // Never stop an instance that may still take requests: out of every proxy first.
      if (!view.complete()) return;
      if (!view.absentEverywhere(inst.id)) {
        if (view.all(inst.id, [](const HostView& v) { return v.drained; }) ||
            live == Liveness::kExited) {
          if (std::string err = fleet_.removeHost(inst.id); !err.empty()) inst.note = err;
        } else {
          fleet_.setState(inst.id, "drain",
                          static_cast<uint32_t>(cfg_.rollout.drain_timeout.count()));
        }
        return;
      }
      if (live == Liveness::kRunning || live == Liveness::kUnknown) driver_->stop(inst);
      if (driver_->liveness(inst, &why) == Liveness::kExited) setPhase(inst, Phase::kStopped, now);
      return;
    }
    case Phase::kStopped:
      return;
  }
}

void Engine::analyse(int64_t now) {
  Rollout& r = *state_.rollout;
  if (r.status == "rolling_back" || now < next_analysis_ms_) return;
  const auto& an = cfg_.rollout.analysis;
  next_analysis_ms_ = now + an.interval.count();
  std::vector<const Instance*> candidates, baseline;
  int64_t newest_traffic_ms = 0;
  for (const auto& i : state_.instances) {
    if (!inTraffic(i.phase)) continue;
    (i.version == r.version ? candidates : baseline).push_back(&i);
    if (i.version == r.version) newest_traffic_ms = std::max(newest_traffic_ms, i.traffic_since_ms);
  }
  if (candidates.empty()) return;
  // What the proxies already concluded needs no statistics: a new instance that they eject for
  // consecutive failures, or whose health checks fail, fails the rollout now.
  for (const Instance* c : candidates) {
    auto it = last_view_.hosts.find(c->id);
    if (it == last_view_.hosts.end()) continue;
    for (const auto& v : it->second) {
      if (v.ejected)
        return beginRollback("instance " + c->id + " was ejected by a proxy's outlier detection",
                             "lbcontrol", false, now);
      if (v.health == "unhealthy")
        return beginRollback("instance " + c->id + " failed the proxies' health checks",
                             "lbcontrol", false, now);
    }
  }
  // The window grows from the newest candidate's first request (up to a minute): with slow start
  // a new instance gets little traffic at first, and a short window would never hold enough.
  const int64_t interval_s = an.interval.count() / 1000;
  const int64_t window_s = std::clamp<int64_t>((now - newest_traffic_ms) / 1000, interval_s, 60);
  TrafficView traffic = fleet_.traffic(static_cast<uint32_t>(window_s));
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
  Judgement j = judge(sum(candidates), base, over, traffic.slo_p99_ms);
  FailureStreak streak(an.failing_intervals, r.failing_streak);
  const bool failed = streak.add(j);
  r.last_analysis = j.text;
  if (streak.count() != r.failing_streak) {
    r.failing_streak = streak.count();
    commit();
  }
  if (failed)
    beginRollback(
        "analysis: " + j.text + ", " + std::to_string(an.failing_intervals) + " intervals in a row",
        "lbcontrol", false, now);
}

bool Engine::approvalNeeded() const {
  const Rollout& r = *state_.rollout;
  if (r.kind == "initial") return false;
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

void Engine::drive(int64_t now) {
  Rollout& r = *state_.rollout;
  const bool rolling_back = r.status == "rolling_back";
  if (r.status == "paused" && !rolling_back) return;
  PlanInput in;
  in.target_version = r.target();
  in.count = rolling_back && r.from_version.empty() ? 0 : cfg_.instances.count;
  in.max_surge = cfg_.rollout.max_surge;
  in.max_unavailable = cfg_.rollout.max_unavailable;
  in.emergency = rolling_back;
  for (const auto& i : state_.instances)
    if (i.phase != Phase::kStopped) in.fleet.push_back(i);
  Plan p = plan(in);

  for (const auto& id : p.stop)
    if (Instance* i = state_.find(id)) setPhase(*i, Phase::kStopping, now);
  for (const auto& id : p.unpark) {
    Instance* i = state_.find(id);
    if (!i) continue;
    i->traffic_since_ms = now;
    setPhase(*i, Phase::kServing, now);  // known-good: it served before it was parked
    if (std::string err = fleet_.setState(id, "ready"); !err.empty()) i->note = err;
  }
  for (const auto& id : p.drain) {
    Instance* i = state_.find(id);
    if (!i) continue;
    setPhase(*i, Phase::kDraining, now);
    fleet_.setState(id, "drain", static_cast<uint32_t>(cfg_.rollout.drain_timeout.count()));
  }
  if (rolling_back && r.out_of_traffic_ms == 0 &&
      std::none_of(state_.instances.begin(), state_.instances.end(), [&](const Instance& i) {
        return i.version == r.version && (inTraffic(i.phase) || i.phase == Phase::kGating);
      })) {
    r.out_of_traffic_ms = now;
    commit();
  }
  for (uint32_t k = 0; k < p.start; ++k) {
    if (!rolling_back && approvalNeeded()) {
      if (r.status != "waiting_approval") {
        r.status = "waiting_approval";
        r.awaiting_approval = true;
        commit();
      }
      break;
    }
    startInstance(in.target_version, now);
  }
  if (!p.complete) return;
  if (rolling_back) return finish(r.aborting ? "aborted" : "rolled_back", now);
  if (r.status == "watching") {
    if (now >= r.watch_until_ms) finish("succeeded", now);
    return;
  }
  if (cfg_.rollout.watch_window.count() > 0 && r.kind != "initial") {
    r.status = "watching";
    r.watch_until_ms = now + cfg_.rollout.watch_window.count();
    commit();
    return;
  }
  finish("succeeded", now);
}

void Engine::reconcileIdle(int64_t now) {
  if (state_.current_version.empty()) return;
  PlanInput in;
  in.target_version = state_.current_version;
  in.count = cfg_.instances.count;
  in.max_surge = cfg_.rollout.max_surge;
  in.max_unavailable = cfg_.rollout.max_unavailable;
  for (const auto& i : state_.instances)
    if (i.phase != Phase::kStopped) in.fleet.push_back(i);
  Plan p = plan(in);
  // Keeps the release whole between rollouts: replaces crashed instances, stops leftovers.
  for (const auto& id : p.stop)
    if (Instance* i = state_.find(id)) setPhase(*i, Phase::kStopping, now);
  for (auto& i : state_.instances)
    if (i.phase == Phase::kParked) setPhase(i, Phase::kStopping, now);
  for (uint32_t k = 0; k < p.start; ++k) startInstance(state_.current_version, now);
}

uint16_t Engine::pickPort() const {
  const auto& d = cfg_.instances.driver;
  for (uint32_t port = d.port_min; port != 0 && port <= d.port_max; ++port) {
    bool used = std::any_of(
        state_.instances.begin(), state_.instances.end(),
        [&](const Instance& i) { return i.port == port && i.phase != Phase::kStopped; });
    if (!used && portBindable(d.host, static_cast<uint16_t>(port)))
      return static_cast<uint16_t>(port);
  }
  return 0;
}

void Engine::startInstance(const std::string& version, int64_t now) {
  Instance inst;
  inst.id = cfg_.instances.id_prefix + "-" + std::to_string(state_.next_instance++);
  inst.version = version;
  inst.port = pickPort();
  inst.phase = Phase::kStarting;
  inst.phase_since_ms = now;
  inst.started_ms = now;
  if (cfg_.instances.driver.kind == config::DriverKind::kProcess && inst.port == 0) {
    inst.note = "no free port in instances.driver.ports";
    inst.phase = Phase::kFailed;
  }
  state_.instances.push_back(inst);
  Rollout* r = state_.rollout ? &*state_.rollout : nullptr;
  if (r && r->active() && version == r->version && r->status != "rolling_back") ++r->steps_started;
  commit();  // the intent first: a restart looks for this instance's pid file
  if (inst.phase == Phase::kFailed) return;
  StartResult res = driver_->start(inst);
  Instance* stored = state_.find(inst.id);
  stored->pid = res.pid;
  stored->address = res.address;
  if (!res.ok) return fail(*stored, "start failed: " + res.error, now);
  commit();
  std::fprintf(stderr, "lbcontrol: started %s (version %s) on %s\n", inst.id.c_str(),
               version.c_str(), res.address.c_str());
}

void Engine::beginRollback(const std::string& reason, const std::string& who, bool abort,
                           int64_t now) {
  Rollout& r = *state_.rollout;
  if (!abort && who == "lbcontrol" && !cfg_.rollout.auto_rollback) {
    if (r.status == "paused") return;
    r.status = "paused";
    r.paused = true;
    r.reason = reason + " (auto_rollback is off: rollback, abort or resume)";
    commit();
    journal_.audit(who, "pause", r.id, r.reason, "paused");
    return;
  }
  r.status = "rolling_back";
  r.reason = reason;
  r.aborting = abort;
  r.paused = false;
  r.awaiting_approval = false;
  r.rollback_started_ms = now;
  commit();
  journal_.audit(who, abort ? "abort" : "rollback", r.id, reason, "rolling_back");
  std::fprintf(stderr, "lbcontrol: rollout %s of %s: rolling back: %s\n", r.id.c_str(),
               r.version.c_str(), reason.c_str());
}

void Engine::finish(const std::string& outcome, int64_t now) {
  Rollout& r = *state_.rollout;
  r.status = outcome;
  r.ended_ms = now;
  r.awaiting_approval = false;
  if (outcome == "succeeded") state_.current_version = r.version;
  Release rel{r.version, r.id, r.created_ms, now, outcome, r.reason};
  state_.history.push_front(rel);
  while (state_.history.size() > cfg_.rollout.history) state_.history.pop_back();
  for (auto& i : state_.instances)
    if (i.phase == Phase::kParked) i.phase = Phase::kStopping;  // out of traffic, no longer needed
  commit();
  journal_.audit("lbcontrol", "finish", r.id, r.reason, outcome);
  std::fprintf(stderr, "lbcontrol: rollout %s of %s: %s\n", r.id.c_str(), r.version.c_str(),
               outcome.c_str());
}

}  // namespace lb::controlplane
