#include "controlplane/model/rollout.h"

#include "controlplane/model/names.h"

namespace lb::controlplane {

namespace {

constexpr NameTable<RolloutStatus, 9> kStatusNames{{
    {RolloutStatus::kWaitingApproval, "waiting_approval"},
    {RolloutStatus::kRunning, "running"},
    {RolloutStatus::kPaused, "paused"},
    {RolloutStatus::kWatching, "watching"},
    {RolloutStatus::kRollingBack, "rolling_back"},
    {RolloutStatus::kSucceeded, "succeeded"},
    {RolloutStatus::kRolledBack, "rolled_back"},
    {RolloutStatus::kAborted, "aborted"},
    {RolloutStatus::kFailed, "failed"},
}};

constexpr NameTable<RolloutKind, 3> kKindNames{{
    {RolloutKind::kDeploy, "deploy"},
    {RolloutKind::kRollback, "rollback"},
    {RolloutKind::kInitial, "initial"},
}};

}  // namespace

const char* rolloutStatusName(RolloutStatus s) { return nameIn(kStatusNames, s); }
std::optional<RolloutStatus> parseRolloutStatus(std::string_view name) {
  return parseIn(kStatusNames, name);
}

bool isActive(RolloutStatus s) {
  switch (s) {
    case RolloutStatus::kWaitingApproval:
    case RolloutStatus::kRunning:
    case RolloutStatus::kPaused:
    case RolloutStatus::kWatching:
    case RolloutStatus::kRollingBack:
      return true;
    case RolloutStatus::kSucceeded:
    case RolloutStatus::kRolledBack:
    case RolloutStatus::kAborted:
    case RolloutStatus::kFailed:
      return false;
  }
  return false;
}

const char* rolloutKindName(RolloutKind k) { return nameIn(kKindNames, k); }
std::optional<RolloutKind> parseRolloutKind(std::string_view name) {
  return parseIn(kKindNames, name);
}

}  // namespace lb::controlplane
