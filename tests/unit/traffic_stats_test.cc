// Per-worker traffic statistics: quantiles, sliding windows, Prometheus buckets.
#include "proxy/stats/traffic_stats.h"

#include <gtest/gtest.h>

namespace lb::stats {
namespace {

TEST(LatencyHistogram, QuantilesWithinBucketError) {
  LatencyHistogram h;
  for (uint64_t ms = 1; ms <= 1000; ++ms) h.add(ms * 1000);  // 1..1000 ms, uniform
  EXPECT_EQ(h.total(), 1000u);
  EXPECT_NEAR(h.quantile(0.50), 500'000, 500'000 * 0.125);
  EXPECT_NEAR(h.quantile(0.95), 950'000, 950'000 * 0.125);
  EXPECT_NEAR(h.quantile(0.99), 990'000, 990'000 * 0.125);
  EXPECT_EQ(LatencyHistogram().quantile(0.5), 0);
}

TEST(LatencyHistogram, BucketsAreContiguous) {
  for (size_t i = 0; i + 1 < LatencyHistogram::kBuckets; ++i) {
    EXPECT_EQ(LatencyHistogram::upperBound(i), LatencyHistogram::lowerBound(i + 1));
    EXPECT_EQ(LatencyHistogram::bucketOf(LatencyHistogram::lowerBound(i)), i);
  }
}

TEST(TrafficStats, WindowCountsOnlyItsSeconds) {
  TrafficStats s;
  s.recordRequest(100, 200, 1000, -1, 0);
  s.recordRequest(105, 503, 2000, upstreamReasonIndex(http::ErrorCode::kUpstreamTimeout), 1);
  s.recordRequest(109, 200, 3000, -1, 0);
  Report last5;
  s.report(109, 5, &last5);  // seconds 105..109
  EXPECT_EQ(last5.window.requests, 2u);
  EXPECT_EQ(last5.window.responses[4], 1u);
  EXPECT_EQ(last5.window.responses[1], 1u);
  EXPECT_EQ(last5.window.upstream_errors[3], 1u);
  EXPECT_EQ(last5.window.retries, 1u);
  EXPECT_EQ(last5.totals.counters.requests, 3u);  // totals ignore the window
  // 400 s later the ring has wrapped: nothing of that traffic is in a 5-minute window.
  Report later;
  s.report(509, 300, &later);
  EXPECT_EQ(later.window.requests, 0u);
  EXPECT_EQ(later.totals.counters.requests, 3u);
}

TEST(TrafficStats, PrometheusBucketsFollowTheSloBounds) {
  TrafficStats s;
  s.recordRequest(1, 200, 4'000, -1, 0);       // 4 ms -> le 0.005
  s.recordRequest(1, 200, 150'000, -1, 0);     // 150 ms -> le 0.2
  s.recordRequest(1, 200, 20'000'000, -1, 0);  // 20 s -> +Inf
  const auto& b = s.totals().duration_buckets;
  EXPECT_EQ(b[0], 1u);
  EXPECT_EQ(b[5], 1u);
  EXPECT_EQ(b[kPromBuckets.size()], 1u);
  EXPECT_NEAR(s.totals().counters.latency_sum_seconds, 20.154, 1e-9);
}

}  // namespace
}  // namespace lb::stats
