// A rollout and a release as lbcontrol records them. Statuses and kinds are enums everywhere in
// the code; their names are the wire and journal format (docs/control-api.md), and lbctl reads
// them back with parseRolloutStatus. Plain data, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lb::controlplane {

enum class RolloutStatus {
  // Active: the engine is working on it.
  kWaitingApproval,
  kRunning,
  kPaused,
  kWatching,  // every step done; watching the new release for watch_window
  kRollingBack,
  // Final.
  kSucceeded,
  kRolledBack,
  kAborted,
  kFailed,
};

const char* rolloutStatusName(RolloutStatus s);
std::optional<RolloutStatus> parseRolloutStatus(std::string_view name);
bool isActive(RolloutStatus s);

enum class RolloutKind {
  kDeploy,
  kRollback,  // a deploy of an earlier release
  kInitial,   // instances.initial_version at first start
};

const char* rolloutKindName(RolloutKind k);
std::optional<RolloutKind> parseRolloutKind(std::string_view name);

struct Rollout {
  std::string id;  // "r-12"
  RolloutKind kind = RolloutKind::kDeploy;
  std::string version;  // the version being rolled out
  std::string from_version;
  RolloutStatus status = RolloutStatus::kRunning;
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

  bool active() const { return isActive(status); }
  bool rollingBack() const { return status == RolloutStatus::kRollingBack; }
  // The version instances should converge to now.
  const std::string& target() const { return rollingBack() ? from_version : version; }
};

struct Release {
  std::string version;
  std::string rollout_id;
  int64_t started_ms = 0;
  int64_t ended_ms = 0;
  RolloutStatus outcome = RolloutStatus::kSucceeded;  // one of the final statuses
  std::string reason;
};

}  // namespace lb::controlplane
