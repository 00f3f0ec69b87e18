// The engine's API methods: each runs on the engine thread (posted there by the API server) and
// returns the JSON to answer with or a typed error; the API server picks the HTTP status.
#include <algorithm>

#include "controlplane/rollout/engine.h"

namespace lb::controlplane {

using nlohmann::json;

namespace {

EngineAnswer error(EngineError::Kind kind, std::string message, std::string rollout_id = "") {
  return {nullptr, EngineError{kind, std::move(message), std::move(rollout_id)}};
}
constexpr auto kBadRequest = EngineError::Kind::kBadRequest;
constexpr auto kNotFound = EngineError::Kind::kNotFound;
constexpr auto kConflict = EngineError::Kind::kConflict;

}  // namespace

EngineAnswer Engine::deploy(const std::string& version, const std::string& who,
                            const std::string& reason) {
  return startRollout(version, who, reason, RolloutKind::kDeploy);
}

EngineAnswer Engine::startRollout(const std::string& version, const std::string& who,
                                  const std::string& reason, RolloutKind kind) {
  if (state_.rollout && state_.rollout->active())
    return error(kConflict,
                 "rollout " + state_.rollout->id + " (" + state_.rollout->version + ") is " +
                     rolloutStatusName(state_.rollout->status) + "; one rollout at a time",
                 state_.rollout->id);
  if (version.empty() || version.size() > 128 ||
      version.find_first_not_of(
          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-+") !=
          std::string::npos)
    return error(kBadRequest, "version must be 1-128 of A-Z a-z 0-9 . _ - +");
  if (version == state_.current_version)
    return error(kConflict, version + " is already the current release");
  Actions out;
  out.audit.push_back(openRollout(cfg_, state_, memory_, version, kind, who, reason, nowMs()));
  carryOut(out);
  return {rolloutJson(), std::nullopt};
}

EngineAnswer Engine::rollback(const std::string& to, const std::string& who,
                              const std::string& reason) {
  if (state_.rollout && state_.rollout->active()) {
    Rollout& r = *state_.rollout;
    if (r.rollingBack()) return {rolloutJson(), std::nullopt};
    if (!to.empty() && to != r.from_version)
      return error(kConflict,
                   "rollout " + r.id + " is active: it can only roll back to " + r.from_version);
    Actions out;
    beginRollback(cfg_, state_, "manual rollback by " + who + (reason.empty() ? "" : ": " + reason),
                  who, false, nowMs(), out);
    carryOut(out);
    return {rolloutJson(), std::nullopt};
  }
  std::string target = to;
  if (target.empty()) {
    // The release before the current one that succeeded.
    bool seen_current = false;
    for (const auto& rel : state_.history) {
      if (rel.outcome != RolloutStatus::kSucceeded) continue;
      if (!seen_current && rel.version == state_.current_version) {
        seen_current = true;
        continue;
      }
      if (seen_current) {
        target = rel.version;
        break;
      }
    }
    if (target.empty())
      return error(kConflict, "there is no previous successful release to roll back to");
  } else if (std::none_of(state_.history.begin(), state_.history.end(),
                          [&](const Release& rel) { return rel.version == to; })) {
    return error(kNotFound, "version " + to + " is not in the release history");
  }
  if (target == state_.current_version)
    return error(kConflict, target + " is already the current release");
  return startRollout(target, who, reason, RolloutKind::kRollback);
}

EngineAnswer Engine::pause(const std::string& who, const std::string& reason) {
  if (!state_.rollout || !state_.rollout->active()) return error(kConflict, "no rollout is active");
  Rollout& r = *state_.rollout;
  if (r.rollingBack())
    return error(kConflict, "rollout " + r.id + " is rolling back; it cannot be paused");
  r.status = RolloutStatus::kPaused;
  r.paused = true;
  r.reason = "paused by " + who + (reason.empty() ? "" : ": " + reason);
  commit();
  journal_.audit(who, "pause", r.id, reason, "paused");
  return {rolloutJson(), std::nullopt};
}

EngineAnswer Engine::resume(const std::string& who, const std::string& reason) {
  if (!state_.rollout || state_.rollout->status != RolloutStatus::kPaused)
    return error(kConflict, "no rollout is paused");
  Rollout& r = *state_.rollout;
  r.paused = false;
  r.status = r.watch_until_ms ? RolloutStatus::kWatching : RolloutStatus::kRunning;
  r.failing_streak = 0;
  r.reason.clear();
  commit();
  journal_.audit(who, "resume", r.id, reason, rolloutStatusName(r.status));
  return {rolloutJson(), std::nullopt};
}

EngineAnswer Engine::abort(const std::string& who, const std::string& reason) {
  if (!state_.rollout || !state_.rollout->active()) return error(kConflict, "no rollout is active");
  Actions out;
  beginRollback(cfg_, state_, "aborted by " + who + (reason.empty() ? "" : ": " + reason), who,
                true, nowMs(), out);
  carryOut(out);
  return {rolloutJson(), std::nullopt};
}

EngineAnswer Engine::approve(const std::string& who, const std::string& reason) {
  if (!state_.rollout || state_.rollout->status != RolloutStatus::kWaitingApproval)
    return error(kConflict, "no rollout is waiting for approval");
  Rollout& r = *state_.rollout;
  ++r.approvals;
  r.awaiting_approval = false;
  r.status = RolloutStatus::kRunning;
  commit();
  journal_.audit(who, "approve", r.id, reason, "running");
  return {rolloutJson(), std::nullopt};
}

json Engine::rolloutJson() const {
  if (!state_.rollout) return nullptr;
  const Rollout& r = *state_.rollout;
  json j = toJson(r);
  uint32_t done = 0;
  json phases = json::object();
  for (const auto& i : state_.instances) {
    if (i.phase == Phase::kStopped) continue;  // kept for the journal until the rollout ends
    if (i.version == r.version && i.phase == Phase::kServing) ++done;
    phases[std::string(phaseName(i.phase))] = phases.value(phaseName(i.phase), 0) + 1;
  }
  j["instances_on_version"] = done;
  j["instances_wanted"] = cfg_.instances.count;
  j["phases"] = phases;
  if (r.first_traffic_ms && r.out_of_traffic_ms)
    j["broken_version_traffic_ms"] = r.out_of_traffic_ms - r.first_traffic_ms;
  return j;
}

EngineAnswer Engine::status() const {
  json proxies = json::array();
  for (const auto& e : last_view_.errors) proxies.push_back(e);
  return {{{"cluster", cfg_.cluster},
           {"current_version", state_.current_version},
           {"rollout", rolloutJson()},
           {"instances", instances().body["instances"]},
           {"proxy_errors", proxies}},
          std::nullopt};
}

EngineAnswer Engine::rolloutView() const {
  if (!state_.rollout) return error(kNotFound, "there has been no rollout yet");
  return {rolloutJson(), std::nullopt};
}

EngineAnswer Engine::instances() const {
  json list = json::array();
  for (const auto& i : state_.instances) {
    json j = toJson(i);
    auto it = last_view_.hosts.find(i.id);
    json views = json::array();
    if (it != last_view_.hosts.end())
      for (const auto& v : it->second)
        views.push_back({{"state", v.state},
                         {"health", v.health},
                         {"usable", v.usable},
                         {"active_requests", v.active_requests}});
    j["proxies"] = views;
    list.push_back(j);
  }
  return {{{"current_version", state_.current_version}, {"instances", list}}, std::nullopt};
}

EngineAnswer Engine::releases() const {
  json list = json::array();
  for (const auto& r : state_.history) list.push_back(toJson(r));
  return {{{"current_version", state_.current_version}, {"releases", list}}, std::nullopt};
}

EngineAnswer Engine::audit(size_t limit) const {
  return {{{"entries", journal_.readAudit(limit)}}, std::nullopt};
}

}  // namespace lb::controlplane
