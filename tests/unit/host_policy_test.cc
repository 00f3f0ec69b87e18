#include "proxy/control/host_policy.h"

#include <gtest/gtest.h>

namespace lb::control {
namespace {

using upstream::Health;

TEST(HostPolicy, ChecksRiseAndFallOnlyAfterTheirThresholdsInARow) {
  config::HealthCheckConfig cfg;
  cfg.healthy_threshold = 2;
  cfg.unhealthy_threshold = 3;
  CheckStreak s;
  Health h = Health::kChecking;
  auto record = [&](bool passed) {
    auto next = recordCheck(s, passed, h, cfg);
    if (next) h = *next;
    return next;
  };
  EXPECT_FALSE(record(true));
  EXPECT_EQ(record(true), Health::kHealthy);
  EXPECT_FALSE(record(true)) << "already healthy: no transition";
  EXPECT_FALSE(record(false));
  EXPECT_FALSE(record(false));
  EXPECT_FALSE(record(true)) << "a pass resets the failures";
  EXPECT_FALSE(record(false));
  EXPECT_FALSE(record(false));
  EXPECT_EQ(record(false), Health::kUnhealthy);
  EXPECT_FALSE(record(true));
  EXPECT_EQ(record(true), Health::kHealthy);
}

TEST(HostPolicy, EjectionGrowsWithEachEjectionUpToTheMaximum) {
  config::OutlierConfig cfg;
  cfg.base_ejection_time = config::Duration(30000);
  cfg.max_ejection_time = config::Duration(100000);
  cfg.max_ejection_percent = 100;
  EXPECT_EQ(decideEjection(cfg, 4, 0, 0).duration.count(), 30000);
  EXPECT_EQ(decideEjection(cfg, 4, 0, 1).duration.count(), 60000);
  EXPECT_EQ(decideEjection(cfg, 4, 0, 2).duration.count(), 90000);
  EXPECT_EQ(decideEjection(cfg, 4, 0, 7).duration.count(), 100000);
}

TEST(HostPolicy, EjectionNeverPassesMaxEjectionPercent) {
  config::OutlierConfig cfg;
  cfg.max_ejection_percent = 50;
  EXPECT_TRUE(decideEjection(cfg, 4, 0, 0).allowed);
  EXPECT_TRUE(decideEjection(cfg, 4, 1, 0).allowed) << "2 of 4 is 50 %";
  EXPECT_FALSE(decideEjection(cfg, 4, 2, 0).allowed) << "3 of 4 would be 75 %";
  EXPECT_FALSE(decideEjection(cfg, 1, 0, 0).allowed) << "the only host stays in";
}

}  // namespace
}  // namespace lb::control
