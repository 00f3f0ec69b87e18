#include "controlplane/rollout/analysis.h"

#include <gtest/gtest.h>

namespace lb::controlplane {
namespace {

config::AnalysisConfig policy() {
  config::AnalysisConfig c;
  c.interval = std::chrono::milliseconds(2000);
  c.min_requests = 20;
  c.max_error_rate = 0.01;
  c.max_p99_ratio = 2.0;
  c.failing_intervals = 3;
  return c;
}

VersionWindow window(uint64_t requests, uint64_t errors, double p99) {
  return VersionWindow{requests, errors, p99};
}

TEST(Analysis, TooFewRequestsIsNoJudgement) {
  Judgement j = judge(window(19, 19, 5000), std::nullopt, policy(), 100);
  EXPECT_EQ(j.verdict, Verdict::kNoData);
  EXPECT_NE(j.text.find("19 requests"), std::string::npos) << j.text;
}

TEST(Analysis, ErrorRateAboveThresholdFails) {
  Judgement j = judge(window(200, 10, 20), std::nullopt, policy(), 0);
  EXPECT_EQ(j.verdict, Verdict::kFail);
  EXPECT_EQ(j.metric, "error_rate");
  EXPECT_DOUBLE_EQ(j.value, 0.05);
  EXPECT_DOUBLE_EQ(j.threshold, 0.01);
  EXPECT_NE(j.text.find("0.0500 > 0.0100"), std::string::npos) << j.text;
}

TEST(Analysis, ErrorRateAtThresholdPasses) {
  EXPECT_EQ(judge(window(1000, 10, 20), std::nullopt, policy(), 0).verdict, Verdict::kPass);
}

TEST(Analysis, FailureSharedWithOldVersionIsNotBlamedOnTheNewOne) {
  // Both versions fail about 10 %: a dependency is down, not the release.
  EXPECT_EQ(judge(window(200, 22, 20), window(400, 40, 20), policy(), 0).verdict, Verdict::kPass);
  // The new version fails far more than the old one.
  Judgement j = judge(window(200, 100, 20), window(400, 40, 20), policy(), 0);
  EXPECT_EQ(j.verdict, Verdict::kFail);
  EXPECT_NE(j.text.find("old version 0.1000"), std::string::npos) << j.text;
}

TEST(Analysis, OldVersionWithTooFewRequestsIsNoBaseline) {
  EXPECT_EQ(judge(window(200, 10, 20), window(5, 5, 20), policy(), 0).verdict, Verdict::kFail);
}

TEST(Analysis, P99AboveSloFails) {
  Judgement j = judge(window(100, 0, 450), std::nullopt, policy(), 300);
  EXPECT_EQ(j.verdict, Verdict::kFail);
  EXPECT_EQ(j.metric, "p99_latency");
  EXPECT_DOUBLE_EQ(j.threshold, 300);
}

TEST(Analysis, P99WithoutAnyObjectiveIsNotJudged) {
  EXPECT_EQ(judge(window(100, 0, 9000), std::nullopt, policy(), 0).verdict, Verdict::kPass);
}

TEST(Analysis, ExplicitMaxP99OverridesTheSlo) {
  auto c = policy();
  c.max_p99 = std::chrono::milliseconds(1000);
  EXPECT_EQ(judge(window(100, 0, 450), std::nullopt, c, 300).verdict, Verdict::kPass);
  EXPECT_EQ(judge(window(100, 0, 1500), std::nullopt, c, 300).verdict, Verdict::kFail);
}

TEST(Analysis, P99OverSloButLikeTheOldVersionPasses) {
  EXPECT_EQ(judge(window(100, 0, 450), window(300, 0, 400), policy(), 300).verdict, Verdict::kPass);
  EXPECT_EQ(judge(window(100, 0, 900), window(300, 0, 400), policy(), 300).verdict, Verdict::kFail);
}

TEST(Analysis, StreakNeedsConsecutiveFailures) {
  FailureStreak s(3);
  Judgement fail{Verdict::kFail, "error_rate", 1, 0.01, ""};
  Judgement pass{Verdict::kPass, "", 0, 0, ""};
  Judgement none{Verdict::kNoData, "", 0, 0, ""};
  EXPECT_FALSE(s.add(fail));
  EXPECT_FALSE(s.add(fail));
  EXPECT_FALSE(s.add(pass));
  EXPECT_EQ(s.count(), 0u);
  EXPECT_FALSE(s.add(fail));
  EXPECT_FALSE(s.add(none)) << "an interval without data neither fails nor resets";
  EXPECT_FALSE(s.add(fail));
  EXPECT_TRUE(s.add(fail));
}

}  // namespace
}  // namespace lb::controlplane
