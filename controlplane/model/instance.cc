#include "controlplane/model/instance.h"

#include "controlplane/model/names.h"

namespace lb::controlplane {

namespace {
constexpr NameTable<Phase, 9> kNames{{
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

const char* phaseName(Phase phase) { return nameIn(kNames, phase); }

std::optional<Phase> parsePhase(const std::string& name) { return parseIn(kNames, name); }

}  // namespace lb::controlplane
