#include "controlplane/state/control_state.h"

#include <chrono>
#include <nlohmann/json.hpp>

namespace lb::controlplane {

using nlohmann::json;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Instance* ControlState::find(const std::string& id) {
  for (auto& i : instances)
    if (i.id == id) return &i;
  return nullptr;
}

json toJson(const Instance& i) {
  return {{"id", i.id},
          {"version", i.version},
          {"address", i.address},
          {"port", i.port},
          {"pid", i.pid},
          {"phase", phaseName(i.phase)},
          {"phase_since_ms", i.phase_since_ms},
          {"started_ms", i.started_ms},
          {"healthy_since_ms", i.healthy_since_ms},
          {"traffic_since_ms", i.traffic_since_ms},
          {"probe_passes", i.probe_passes},
          {"note", i.note}};
}

json toJson(const Rollout& r) {
  return {{"id", r.id},
          {"kind", rolloutKindName(r.kind)},
          {"version", r.version},
          {"from_version", r.from_version},
          {"status", rolloutStatusName(r.status)},
          {"requested_by", r.requested_by},
          {"request_reason", r.request_reason},
          {"reason", r.reason},
          {"created_ms", r.created_ms},
          {"ended_ms", r.ended_ms},
          {"watch_until_ms", r.watch_until_ms},
          {"first_traffic_ms", r.first_traffic_ms},
          {"rollback_started_ms", r.rollback_started_ms},
          {"out_of_traffic_ms", r.out_of_traffic_ms},
          {"steps_total", r.steps_total},
          {"steps_started", r.steps_started},
          {"approvals", r.approvals},
          {"paused", r.paused},
          {"awaiting_approval", r.awaiting_approval},
          {"aborting", r.aborting},
          {"last_analysis", r.last_analysis},
          {"failing_streak", r.failing_streak}};
}

json toJson(const Release& r) {
  return {{"version", r.version},
          {"rollout_id", r.rollout_id},
          {"started_ms", r.started_ms},
          {"ended_ms", r.ended_ms},
          {"outcome", rolloutStatusName(r.outcome)},
          {"reason", r.reason}};
}

json toJson(const ControlState& s) {
  json instances = json::array();
  for (const auto& i : s.instances) instances.push_back(toJson(i));
  json history = json::array();
  for (const auto& r : s.history) history.push_back(toJson(r));
  return {{"format", 1},
          {"next_instance", s.next_instance},
          {"next_rollout", s.next_rollout},
          {"current_version", s.current_version},
          {"instances", instances},
          {"rollout", s.rollout ? toJson(*s.rollout) : json(nullptr)},
          {"history", history}};
}

bool fromJson(const std::string& text, ControlState* out, std::string* error) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    *error = "not JSON";
    return false;
  }
  try {
    if (j.at("format").get<int>() != 1) {
      *error = "unknown journal format";
      return false;
    }
    ControlState s;
    s.next_instance = j.at("next_instance").get<uint64_t>();
    s.next_rollout = j.at("next_rollout").get<uint64_t>();
    s.current_version = j.at("current_version").get<std::string>();
    for (const auto& ij : j.at("instances")) {
      Instance i;
      i.id = ij.at("id").get<std::string>();
      i.version = ij.at("version").get<std::string>();
      i.address = ij.at("address").get<std::string>();
      i.port = ij.at("port").get<uint16_t>();
      i.pid = ij.at("pid").get<int>();
      auto phase = parsePhase(ij.at("phase").get<std::string>());
      if (!phase) {
        *error = "unknown phase of instance " + i.id;
        return false;
      }
      i.phase = *phase;
      i.phase_since_ms = ij.at("phase_since_ms").get<int64_t>();
      i.started_ms = ij.at("started_ms").get<int64_t>();
      i.healthy_since_ms = ij.at("healthy_since_ms").get<int64_t>();
      i.traffic_since_ms = ij.at("traffic_since_ms").get<int64_t>();
      i.probe_passes = ij.at("probe_passes").get<uint32_t>();
      i.note = ij.at("note").get<std::string>();
      s.instances.push_back(std::move(i));
    }
    if (!j.at("rollout").is_null()) {
      const json& rj = j.at("rollout");
      Rollout r;
      r.id = rj.at("id").get<std::string>();
      auto kind = parseRolloutKind(rj.at("kind").get<std::string>());
      auto status = parseRolloutStatus(rj.at("status").get<std::string>());
      if (!kind || !status) {
        *error = "unknown kind or status of rollout " + r.id;
        return false;
      }
      r.kind = *kind;
      r.status = *status;
      r.version = rj.at("version").get<std::string>();
      r.from_version = rj.at("from_version").get<std::string>();
      r.requested_by = rj.at("requested_by").get<std::string>();
      r.request_reason = rj.at("request_reason").get<std::string>();
      r.reason = rj.at("reason").get<std::string>();
      r.created_ms = rj.at("created_ms").get<int64_t>();
      r.ended_ms = rj.at("ended_ms").get<int64_t>();
      r.watch_until_ms = rj.at("watch_until_ms").get<int64_t>();
      r.first_traffic_ms = rj.at("first_traffic_ms").get<int64_t>();
      r.rollback_started_ms = rj.at("rollback_started_ms").get<int64_t>();
      r.out_of_traffic_ms = rj.at("out_of_traffic_ms").get<int64_t>();
      r.steps_total = rj.at("steps_total").get<uint32_t>();
      r.steps_started = rj.at("steps_started").get<uint32_t>();
      r.approvals = rj.at("approvals").get<uint32_t>();
      r.paused = rj.at("paused").get<bool>();
      r.awaiting_approval = rj.at("awaiting_approval").get<bool>();
      r.aborting = rj.at("aborting").get<bool>();
      r.last_analysis = rj.at("last_analysis").get<std::string>();
      r.failing_streak = rj.at("failing_streak").get<uint32_t>();
      s.rollout = std::move(r);
    }
    for (const auto& hj : j.at("history")) {
      Release r;
      r.version = hj.at("version").get<std::string>();
      r.rollout_id = hj.at("rollout_id").get<std::string>();
      r.started_ms = hj.at("started_ms").get<int64_t>();
      r.ended_ms = hj.at("ended_ms").get<int64_t>();
      auto outcome = parseRolloutStatus(hj.at("outcome").get<std::string>());
      if (!outcome || isActive(*outcome)) {
        *error = "unknown outcome of release " + r.version;
        return false;
      }
      r.outcome = *outcome;
      r.reason = hj.at("reason").get<std::string>();
      s.history.push_back(std::move(r));
    }
    *out = std::move(s);
    return true;
  } catch (const json::exception& e) {
    *error = std::string("malformed journal: ") + e.what();
    return false;
  }
}

}  // namespace lb::controlplane
