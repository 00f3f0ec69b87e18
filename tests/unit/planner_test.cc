#include "controlplane/rollout/planner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace lb::controlplane {
namespace {

Instance inst(const std::string& id, const std::string& version, Phase phase) {
  Instance i;
  i.id = id;
  i.version = version;
  i.phase = phase;
  return i;
}

std::vector<Instance> fleetOf(uint32_t n, const std::string& version) {
  std::vector<Instance> fleet;
  for (uint32_t k = 0; k < n; ++k)
    fleet.push_back(inst("old-" + std::to_string(k), version, Phase::kServing));
  return fleet;
}

int count(const std::vector<Instance>& fleet, const std::string& version, Phase phase) {
  return static_cast<int>(std::count_if(fleet.begin(), fleet.end(), [&](const Instance& i) {
    return i.version == version && i.phase == phase;
  }));
}

// Plays a rollout to the end with a fake engine that moves each instance one phase per tick,
// checking the policy's promises at every tick. Returns the number of ticks.
int simulate(uint32_t n, uint32_t surge, uint32_t unavailable) {
  PlanInput in;
  in.target_version = "v2";
  in.count = n;
  in.max_surge = surge;
  in.max_unavailable = unavailable;
  in.fleet = fleetOf(n, "v1");
  int next = 0;
  for (int tick = 0; tick < 200; ++tick) {
    Plan p = plan(in);
    if (p.complete) return tick;
    for (const auto& id : p.drain)
      for (auto& i : in.fleet)
        if (i.id == id) i.phase = Phase::kDraining;
    for (const auto& id : p.stop)
      for (auto& i : in.fleet)
        if (i.id == id) i.phase = Phase::kStopped;
    for (uint32_t k = 0; k < p.start; ++k)
      in.fleet.push_back(inst("new-" + std::to_string(next++), "v2", Phase::kStarting));

    int serving = 0, consumers = 0;
    for (const auto& i : in.fleet) {
      if (i.phase == Phase::kServing) ++serving;
      if (i.phase != Phase::kParked && i.phase != Phase::kStopped) ++consumers;
    }
    EXPECT_GE(serving, static_cast<int>(n - unavailable))
        << "capacity fell below count - max_unavailable at tick " << tick;
    EXPECT_LE(consumers, static_cast<int>(n + surge))
        << "more than count + max_surge instances at tick " << tick;

    for (auto& i : in.fleet) {  // the fake engine: one phase per tick
      if (i.phase == Phase::kStarting)
        i.phase = Phase::kGating;
      else if (i.phase == Phase::kGating)
        i.phase = Phase::kBaking;
      else if (i.phase == Phase::kBaking)
        i.phase = Phase::kServing;
      else if (i.phase == Phase::kDraining)
        i.phase = Phase::kParked;
    }
  }
  ADD_FAILURE() << "rollout did not complete";
  return -1;
}

TEST(Planner, RollsEveryFleetShapeWithinSurgeAndUnavailability) {
  for (uint32_t n = 1; n <= 6; ++n)
    for (uint32_t surge = 0; surge <= 2; ++surge)
      for (uint32_t unav = 0; unav <= 2; ++unav) {
        if (surge + unav == 0 || unav >= n) continue;
        SCOPED_TRACE("n=" + std::to_string(n) + " surge=" + std::to_string(surge) +
                     " unavailable=" + std::to_string(unav));
        EXPECT_GT(simulate(n, surge, unav), 0);
      }
}

TEST(Planner, SurgeOneUnavailableZeroReplacesOneAtATime) {
  PlanInput in;
  in.target_version = "v2";
  in.count = 3;
  in.fleet = fleetOf(3, "v1");
  Plan p = plan(in);
  EXPECT_EQ(p.start, 1u);
  EXPECT_TRUE(p.drain.empty());
  EXPECT_FALSE(p.complete);

  in.fleet.push_back(inst("new-0", "v2", Phase::kBaking));
  p = plan(in);
  EXPECT_EQ(p.start, 0u) << "no second new instance while the first bakes";
  EXPECT_TRUE(p.drain.empty()) << "no old instance leaves before the new one has baked";

  in.fleet.back().phase = Phase::kServing;
  p = plan(in);
  ASSERT_EQ(p.drain.size(), 1u);
  EXPECT_EQ(p.drain[0], "old-0") << "the oldest leaves first";
  EXPECT_EQ(p.start, 0u);
}

TEST(Planner, NoFleetStartsUpToSurgeAtOnce) {
  PlanInput in;
  in.target_version = "v1";
  in.count = 3;
  in.max_surge = 1;
  EXPECT_EQ(plan(in).start, 3u) << "an empty fleet has nothing to protect: surge applies above 0";
  in.count = 5;
  EXPECT_EQ(plan(in).start, 5u);
}

TEST(Planner, DrainingOldCountsAgainstSurgeUntilParked) {
  PlanInput in;
  in.target_version = "v2";
  in.count = 2;
  in.fleet = {inst("a", "v1", Phase::kDraining), inst("b", "v1", Phase::kServing),
              inst("c", "v2", Phase::kServing)};
  EXPECT_EQ(plan(in).start, 0u);
  in.fleet[0].phase = Phase::kParked;
  Plan p = plan(in);
  EXPECT_EQ(p.start, 1u);
  EXPECT_TRUE(p.drain.empty());
}

TEST(Planner, CompleteOnlyWhenNothingElseServesOrDrains) {
  PlanInput in;
  in.target_version = "v2";
  in.count = 2;
  in.fleet = {inst("a", "v1", Phase::kParked), inst("b", "v1", Phase::kDraining),
              inst("c", "v2", Phase::kServing), inst("d", "v2", Phase::kServing)};
  EXPECT_FALSE(plan(in).complete);
  in.fleet[1].phase = Phase::kParked;
  EXPECT_TRUE(plan(in).complete) << "parked old instances do not block completion";
}

TEST(Planner, EmergencyRollbackUnparksAndDrainsAtOnce) {
  // Mid-rollout of v2 (broken): one v1 parked, two v1 serving, one v2 serving, one v2 baking.
  PlanInput in;
  in.target_version = "v1";
  in.count = 3;
  in.emergency = true;
  in.fleet = {inst("a", "v1", Phase::kParked), inst("b", "v1", Phase::kServing),
              inst("c", "v1", Phase::kServing), inst("x", "v2", Phase::kServing),
              inst("y", "v2", Phase::kBaking)};
  Plan p = plan(in);
  EXPECT_EQ(p.unpark, std::vector<std::string>{"a"});
  std::sort(p.drain.begin(), p.drain.end());
  EXPECT_EQ(p.drain, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(p.start, 0u);
}

TEST(Planner, EmergencyWithoutParkedInstancesStartsTheOldVersion) {
  PlanInput in;
  in.target_version = "v1";
  in.count = 2;
  in.emergency = true;
  in.fleet = {inst("x", "v2", Phase::kServing), inst("y", "v2", Phase::kServing)};
  Plan p = plan(in);
  EXPECT_EQ(p.start, 2u);
  EXPECT_EQ(p.drain.size(), 2u);
}

TEST(Planner, StopsFailedAndStrayPendingInstances) {
  PlanInput in;
  in.target_version = "v1";
  in.count = 1;
  in.fleet = {inst("a", "v1", Phase::kServing), inst("f", "v1", Phase::kFailed),
              inst("s", "v2", Phase::kGating)};
  Plan p = plan(in);
  std::sort(p.stop.begin(), p.stop.end());
  EXPECT_EQ(p.stop, (std::vector<std::string>{"f", "s"}));
  EXPECT_TRUE(p.complete);
}

TEST(Planner, FailedNewInstanceIsReplaced) {
  PlanInput in;
  in.target_version = "v2";
  in.count = 2;
  in.fleet = {inst("a", "v1", Phase::kServing), inst("b", "v1", Phase::kServing),
              inst("n", "v2", Phase::kFailed)};
  Plan p = plan(in);
  EXPECT_EQ(p.stop, std::vector<std::string>{"n"});
  EXPECT_EQ(p.start, 1u);
}

TEST(Planner, LowerCountDrainsExtraTargetInstances) {
  PlanInput in;
  in.target_version = "v1";
  in.count = 2;
  in.fleet = fleetOf(3, "v1");
  Plan p = plan(in);
  EXPECT_EQ(p.drain, std::vector<std::string>{"old-0"});
  EXPECT_EQ(count(in.fleet, "v1", Phase::kServing), 3);
}

}  // namespace
}  // namespace lb::controlplane
