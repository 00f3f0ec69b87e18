#include "controlplane/rollout/analysis.h"

#include <algorithm>
#include <cstdio>

namespace lb::controlplane {

namespace {

std::string format(const char* fmt, double a, double b = 0) {
  char buf[160];
  std::snprintf(buf, sizeof(buf), fmt, a, b);
  return buf;
}

}  // namespace

Judgement judge(const VersionWindow& candidate, const std::optional<VersionWindow>& baseline,
                const config::AnalysisConfig& cfg, double slo_p99_ms) {
  Judgement j;
  const std::string window = std::to_string(cfg.interval.count() / 1000) + "s";
  if (candidate.requests < cfg.min_requests) {
    j.text = std::to_string(candidate.requests) + " requests in " + window + ", fewer than the " +
             std::to_string(cfg.min_requests) + " needed to judge";
    return j;
  }
  const bool has_baseline = baseline && baseline->requests >= cfg.min_requests;
  const double rate =
      static_cast<double>(candidate.errors) / static_cast<double>(candidate.requests);
  const double base_rate =
      has_baseline ? static_cast<double>(baseline->errors) / static_cast<double>(baseline->requests)
                   : 0;
  const double rate_limit = std::max(cfg.max_error_rate, 2 * base_rate);
  if (rate > rate_limit) {
    j.verdict = Verdict::kFail;
    j.metric = "error_rate";
    j.value = rate;
    j.threshold = rate_limit;
    j.text = format("error rate %.4f > %.4f", rate, rate_limit) + " over " + window +
             (has_baseline ? format(" (old version %.4f)", base_rate) : "");
    return j;
  }
  const double p99_limit =
      cfg.max_p99.count() > 0 ? static_cast<double>(cfg.max_p99.count()) : slo_p99_ms;
  if (p99_limit > 0 && candidate.p99_ms > p99_limit) {
    const bool worse_than_old =
        !has_baseline || candidate.p99_ms > baseline->p99_ms * cfg.max_p99_ratio;
    if (worse_than_old) {
      j.verdict = Verdict::kFail;
      j.metric = "p99_latency";
      j.value = candidate.p99_ms;
      j.threshold = p99_limit;
      j.text = format("p99 %.1f ms > %.1f ms", candidate.p99_ms, p99_limit) + " over " + window +
               (has_baseline ? format(" (old version %.1f ms)", baseline->p99_ms) : "");
      return j;
    }
  }
  j.verdict = Verdict::kPass;
  j.value = rate;
  j.text = format("error rate %.4f, p99 %.1f ms", rate, candidate.p99_ms) + " over " + window;
  return j;
}

bool FailureStreak::add(const Judgement& j) {
  if (j.verdict == Verdict::kPass) count_ = 0;
  if (j.verdict == Verdict::kFail) ++count_;
  return j.verdict == Verdict::kFail && count_ >= needed_;
}

}  // namespace lb::controlplane
