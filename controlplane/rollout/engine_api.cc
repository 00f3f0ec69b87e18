// The engine's API methods: each runs on the engine thread (posted there by the API server) and
// returns the HTTP status and JSON body to answer with.
#include <algorithm>

#include "common/http_server.h"
#include "controlplane/rollout/engine.h"

namespace lb::controlplane {

using nlohmann::json;

namespace {

ApiResult error(int status, const std::string& code, const std::string& message) {
  return {status, common::errorBody(code, message)};
}

}  // namespace

ApiResult Engine::deploy(const std::string& version, const std::string& who,
                         const std::string& reason) {
  return startRollout(version, who, reason, "deploy");
}

ApiResult Engine::startRollout(const std::string& version, const std::string& who,
                               const std::string& reason, const std::string& kind) {
  if (state_.rollout && state_.rollout->active())
    return {409,
            {{"error",
              {{"code", "conflict"},
               {"message", "rollout " + state_.rollout->id + " (" + state_.rollout->version +
                               ") is " + state_.rollout->status + "; one rollout at a time"},
               {"rollout_id", state_.rollout->id}}}}};
  if (version.empty() || version.size() > 128 ||
      version.find_first_not_of(
          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-+") !=
          std::string::npos)
    return error(400, "bad_request", "version must be 1-128 of A-Z a-z 0-9 . _ - +");
  if (version == state_.current_version)
    return error(409, "conflict", version + " is already the current release");
  const int64_t now = nowMs();
  Rollout r;
  r.id = "r-" + std::to_string(state_.next_rollout++);
  r.kind = kind;
  r.version = version;
  r.from_version = state_.current_version;
  r.requested_by = who;
  r.request_reason = reason;
  r.created_ms = now;
  r.steps_total = cfg_.instances.count;
  state_.rollout = r;
  next_analysis_ms_ = 0;
  commit();
  journal_.audit(who, kind, version, reason, r.id);
  return {202, rolloutJson()};
}

ApiResult Engine::rollback(const std::string& to, const std::string& who,
                           const std::string& reason) {
  if (state_.rollout && state_.rollout->active()) {
    Rollout& r = *state_.rollout;
    if (r.status == "rolling_back") return {202, rolloutJson()};
    if (!to.empty() && to != r.from_version)
      return error(409, "conflict",
                   "rollout " + r.id + " is active: it can only roll back to " + r.from_version);
    beginRollback("manual rollback by " + who + (reason.empty() ? "" : ": " + reason), who, false,
                  nowMs());
    return {202, rolloutJson()};
  }
  std::string target = to;
  if (target.empty()) {
    // The release before the current one that succeeded.
    bool seen_current = false;
    for (const auto& rel : state_.history) {
      if (rel.outcome != "succeeded") continue;
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
      return error(409, "conflict", "there is no previous successful release to roll back to");
  } else if (std::none_of(state_.history.begin(), state_.history.end(),
                          [&](const Release& rel) { return rel.version == to; })) {
    return error(404, "not_found", "version " + to + " is not in the release history");
  }
  if (target == state_.current_version)
    return error(409, "conflict", target + " is already the current release");
  return startRollout(target, who, reason, "rollback");
}

ApiResult Engine::pause(const std::string& who, const std::string& reason) {
  if (!state_.rollout || !state_.rollout->active())
    return error(409, "conflict", "no rollout is active");
  Rollout& r = *state_.rollout;
  if (r.status == "rolling_back")
    return error(409, "conflict", "rollout " + r.id + " is rolling back; it cannot be paused");
  r.status = "paused";
  r.paused = true;
  r.reason = "paused by " + who + (reason.empty() ? "" : ": " + reason);
  commit();
  journal_.audit(who, "pause", r.id, reason, "paused");
  return {200, rolloutJson()};
}

ApiResult Engine::resume(const std::string& who, const std::string& reason) {
  if (!state_.rollout || state_.rollout->status != "paused")
    return error(409, "conflict", "no rollout is paused");
  Rollout& r = *state_.rollout;
  r.paused = false;
  r.status = r.watch_until_ms ? "watching" : "running";
  r.failing_streak = 0;
  r.reason.clear();
  commit();
  journal_.audit(who, "resume", r.id, reason, r.status);
  return {200, rolloutJson()};
}

ApiResult Engine::abort(const std::string& who, const std::string& reason) {
  if (!state_.rollout || !state_.rollout->active())
    return error(409, "conflict", "no rollout is active");
  beginRollback("aborted by " + who + (reason.empty() ? "" : ": " + reason), who, true, nowMs());
  return {202, rolloutJson()};
}

ApiResult Engine::approve(const std::string& who, const std::string& reason) {
  if (!state_.rollout || state_.rollout->status != "waiting_approval")
    return error(409, "conflict", "no rollout is waiting for approval");
  Rollout& r = *state_.rollout;
  ++r.approvals;
  r.awaiting_approval = false;
  r.status = "running";
  commit();
  journal_.audit(who, "approve", r.id, reason, "running");
  return {200, rolloutJson()};
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

ApiResult Engine::status() const {
  json proxies = json::array();
  for (const auto& e : last_view_.errors) proxies.push_back(e);
  return {200,
          {{"cluster", cfg_.cluster},
           {"current_version", state_.current_version},
           {"rollout", rolloutJson()},
           {"instances", instances().body["instances"]},
           {"proxy_errors", proxies}}};
}

ApiResult Engine::rolloutView() const {
  if (!state_.rollout) return error(404, "not_found", "there has been no rollout yet");
  return {200, rolloutJson()};
}

ApiResult Engine::instances() const {
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
  return {200, {{"current_version", state_.current_version}, {"instances", list}}};
}

ApiResult Engine::releases() const {
  json list = json::array();
  for (const auto& r : state_.history) list.push_back(toJson(r));
  return {200, {{"current_version", state_.current_version}, {"releases", list}}};
}

ApiResult Engine::audit(size_t limit) const {
  return {200, {{"entries", journal_.readAudit(limit)}}};
}

}  // namespace lb::controlplane
