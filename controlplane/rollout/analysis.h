// Judging a new version from live traffic: pure functions over windows of the proxies'
// statistics (tests/unit/analysis_test.cc). Any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "config/control_model.h"

namespace lb::controlplane {

// One version's traffic over one analysis interval, summed over its instances and the proxies.
struct VersionWindow {
  uint64_t requests = 0;
  uint64_t errors = 0;  // 5xx answers plus upstream errors (connect failures, resets, timeouts)
  double p99_ms = 0;    // the worst instance's p99 (quantiles do not add up)
};

enum class Verdict { kPass, kFail, kNoData };

struct Judgement {
  Verdict verdict = Verdict::kNoData;
  std::string metric;  // "error_rate", "p99_latency"; "" when it passed or could not judge
  double value = 0;
  double threshold = 0;
  std::string text;  // one sentence for people: what, value vs threshold, baseline, window
};

// `baseline` is the old version over the same window, when it still serves. `slo_p99_ms` is
// the p99 objective to hold (0 = none). The error rate fails above max_error_rate and above
// twice the old version's (a failure both versions share is not the new version's fault); p99
// fails above the objective and above max_p99_ratio times the old version's.
Judgement judge(const VersionWindow& candidate, const std::optional<VersionWindow>& baseline,
                const config::AnalysisConfig& cfg, double slo_p99_ms);

// N failing intervals in a row fail the rollout; a passing one resets the count; an interval
// without enough data leaves it as it is.
class FailureStreak {
 public:
  explicit FailureStreak(uint32_t needed, uint32_t count = 0) : needed_(needed), count_(count) {}
  // Returns true when this judgement completes the streak.
  bool add(const Judgement& j);
  uint32_t count() const { return count_; }
  void reset() { count_ = 0; }

 private:
  uint32_t needed_;
  uint32_t count_ = 0;
};

}  // namespace lb::controlplane
