#include "controlplane/model/instance.h"

#include <array>
#include <utility>

namespace lb::controlplane {

namespace {
constexpr std::array<std::pair<Phase, const char*>, 9> kNames{{
    {Phase::kStarting, "starting"},
    {Phase::kGating, "gating"},
    {Phase::kBaking, "baking"},
    {Phase::kServing, "serving"},
    {Phase::kDraining, "draining"},
    {Phase::kParked, "parked"},
    {Phase::kStopping, "stopping"},
    {Phase::kStopped, "stopped"},
    {Phase::kFailed, "failed"},
}};
}  // namespace

const char* phaseName(Phase phase) {
  for (const auto& [p, name] : kNames)
    if (p == phase) return name;
  return "unknown";
}

std::optional<Phase> parsePhase(const std::string& name) {
  for (const auto& [p, n] : kNames)
    if (name == n) return p;
  return std::nullopt;
}

}  // namespace lb::controlplane
