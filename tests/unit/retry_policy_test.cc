// The retry policy's pure decisions: which statuses, which methods, and the budget's room.
#include "proxy/stream/retry_policy.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace lb::stream
