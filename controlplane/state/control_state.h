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
#include "controlplane/model/rollout.h"

namespace lb::controlplane {

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
