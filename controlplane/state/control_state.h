// Everything lbcontrol must not forget: the instances it runs, the rollout in progress, the
// release history. The engine changes it and journals it (journal.h) before acting on the
// change, so a restart finds every instance that may be running or in traffic. Engine thread
// only; the API sees JSON copies.
#pragma once

#include <cstdint>
#include <deque>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "controlplane/model/instance.h"

namespace lb::controlplane {

// Rollout statuses. Active: waiting_approval, running, paused, watching, rolling_back.
// Final: succeeded, rolled_back, aborted, failed.
struct Rollout {
  std::string id;       // "r-12"
  std::string kind;     // deploy | rollback | initial
  std::string version;  // the version being rolled out
  std::string from_version;
  std::string status = "running";
  std::string requested_by;
  std::string request_reason;
  std::string reason;  // why it rolled back, paused, failed or was aborted
  int64_t created_ms = 0;
  int64_t ended_ms = 0;
  int64_t watch_until_ms = 0;
  int64_t first_traffic_ms = 0;  // the new version's first instance set ready
  int64_t rollback_started_ms = 0;
  int64_t out_of_traffic_ms = 0;  // after a rollback: no new-version instance ready any more
  uint32_t steps_total = 0;       // instances to replace
  uint32_t steps_started = 0;     // new instances started
  uint32_t approvals = 0;         // steps approved so far (approval modes)
  bool paused = false;            // paused by an operator (status shows it)
  bool awaiting_approval = false;
  bool aborting = false;      // the rollback was an abort: it ends "aborted"
  std::string last_analysis;  // the last judgement, for status displays
  uint32_t failing_streak = 0;

  bool active() const {
    return status == "waiting_approval" || status == "running" || status == "paused" ||
           status == "watching" || status == "rolling_back";
  }
  // The version instances should converge to now.
  const std::string& target() const { return status == "rolling_back" ? from_version : version; }
};

struct Release {
  std::string version;
  std::string rollout_id;
  int64_t started_ms = 0;
  int64_t ended_ms = 0;
  std::string outcome;  // succeeded | rolled_back | aborted | failed
  std::string reason;
};

struct ControlState {
  uint64_t next_instance = 1;
  uint64_t next_rollout = 1;
  std::string current_version;  // the release in production; "" before the first one
  std::vector<Instance> instances;
  std::optional<Rollout> rollout;  // the active one, or the last one
  std::deque<Release> history;     // newest first

  Instance* find(const std::string& id);
};

nlohmann::json toJson(const Instance& i);
nlohmann::json toJson(const Rollout& r);
nlohmann::json toJson(const Release& r);
nlohmann::json toJson(const ControlState& s);
// False + *error when the text is not a journal this version can read.
bool fromJson(const std::string& text, ControlState* out, std::string* error);

int64_t nowMs();  // wall clock, ms since the epoch

}  // namespace lb::controlplane
