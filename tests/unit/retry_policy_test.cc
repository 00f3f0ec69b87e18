// The retry policy's pure decisions (which statuses, which methods, the budget's room), and
// how a cluster limit is split over the workers.
#include "proxy/stream/retry_policy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>

#include "proxy/stream/worker_share.h"

namespace lb::stream {
namespace {

TEST(RetryPolicy, StatusesByCondition) {
  config::RetryConfig p;
  EXPECT_FALSE(retryOnStatus(p, 500));
  p.on_gateway_error = true;
  for (int s : {502, 503, 504}) EXPECT_TRUE(retryOnStatus(p, s)) << s;
  for (int s : {200, 500, 501, 505, 429}) EXPECT_FALSE(retryOnStatus(p, s)) << s;
  p = {};
  p.on_5xx = true;
  for (int s : {500, 501, 503, 599}) EXPECT_TRUE(retryOnStatus(p, s)) << s;
  for (int s : {200, 404, 429, 499}) EXPECT_FALSE(retryOnStatus(p, s)) << s;
  p = {};
  p.statuses = {429, 409};
  EXPECT_TRUE(retryOnStatus(p, 429));
  EXPECT_TRUE(retryOnStatus(p, 409));
  EXPECT_FALSE(retryOnStatus(p, 500));
}

TEST(RetryPolicy, OnlyIdempotentMethodsUnlessAllowed) {
  config::RetryConfig p;
  EXPECT_FALSE(policyCovers(p, "GET"));  // no condition: no policy
  p.on_reset = true;
  for (const char* m : {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
    EXPECT_TRUE(policyCovers(p, m)) << m;
  for (const char* m : {"POST", "PATCH", "CONNECT", "get"}) EXPECT_FALSE(policyCovers(p, m)) << m;
  p.non_idempotent = true;
  EXPECT_TRUE(policyCovers(p, "POST"));
  EXPECT_TRUE(policyCovers(p, "PATCH"));
}

TEST(RetryPolicy, BudgetIsAShareOfActiveRequestsWithAFloor) {
  config::RetryBudget b;  // 20 %, at least 3
  EXPECT_TRUE(budgetAllows(b, 0, 0));
  EXPECT_TRUE(budgetAllows(b, 1, 2));
  EXPECT_FALSE(budgetAllows(b, 1, 3));  // the floor
  EXPECT_TRUE(budgetAllows(b, 100, 19));
  EXPECT_FALSE(budgetAllows(b, 100, 20));  // 20 % of 100
  b.percent = 0;
  b.min_concurrency = 0;
  EXPECT_FALSE(budgetAllows(b, 1000, 0));  // closed
  b.percent = 100;
  EXPECT_TRUE(budgetAllows(b, 4000000000u, 3999999999u));  // no overflow
}

TEST(WorkerShare, SharesAddUpToTheTotal) {
  for (uint32_t workers : {1u, 2u, 3u, 8u}) {
    for (uint32_t total : {8u, 9u, 10u, 200u, 1001u}) {
      uint32_t sum = 0, lo = UINT32_MAX, hi = 0;
      for (uint32_t id = 0; id < workers; ++id) {
        const uint32_t share = workerShare(total, workers, id);
        sum += share;
        lo = std::min(lo, share);
        hi = std::max(hi, share);
      }
      EXPECT_EQ(sum, total) << total << " over " << workers;
      EXPECT_LE(hi - lo, 1u) << total << " over " << workers;
    }
  }
  // Fewer than one per worker: each still gets one; none means none.
  EXPECT_EQ(workerShare(1, 4, 3), 1u);
  EXPECT_EQ(workerShare(0, 4, 0), 0u);
  EXPECT_EQ(workerShare(5, 0, 0), 5u);  // 0 workers reads as one
}

}  // namespace
}  // namespace lb::stream
