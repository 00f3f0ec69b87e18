// The rollout planner: a pure function from the observed fleet, the target version and the
// policy to the next actions. The engine calls it every tick and carries the actions out; the
// planner has no clock, no I/O and no memory, so it can be tested over any fleet shape
// (tests/unit/planner_test.cc). Any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "controlplane/model/instance.h"

namespace lb::controlplane {

struct PlanInput {
  std::string target_version;
  uint32_t count = 0;  // serving instances wanted
  uint32_t max_surge = 1;
  uint32_t max_unavailable = 0;
  // Rolling back: known-good parked instances go back at once and every instance of another
  // version leaves traffic at once, whatever surge and unavailability allow.
  bool emergency = false;
  std::vector<Instance> fleet;  // every instance lbcontrol manages, in age order (oldest first)
};

struct Plan {
  uint32_t start = 0;               // new instances of the target version to start
  std::vector<std::string> unpark;  // parked target-version instances to put back in traffic
  std::vector<std::string> drain;   // instances to take out of traffic
  std::vector<std::string> stop;    // instances out of traffic that are of no further use
  bool complete = false;  // `count` target instances serving, nothing else in traffic or pending
};

Plan plan(const PlanInput& in);

}  // namespace lb::controlplane
