// The shared GCRA table on its own: the burst passes, then one request per interval; keys are
// independent; the remaining count, Retry-After and reset times are what the bucket says;
// memory stays what the table was built with however many keys pass (a million distinct
// client addresses), and a key being limited is still limited after them. Workers take from
// one table at once without losing a request or letting one more through.
#include "proxy/ratelimit/rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "proxy/upstream/load_balancer.h"

namespace lb::ratelimit {
namespace {

constexpr uint64_t kMs = 1000000;  // ns

TEST(RateLimiter, BurstThenTheSustainedRate) {
  RateLimiter rl(10, 1000, 5, 16);  // 10/s: one per 100 ms, 5 at once
  const uint64_t t0 = 1000 * kMs;
  for (uint32_t i = 0; i < 5; ++i) {
    Decision d = rl.take(42, t0);
    ASSERT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.remaining, 4 - i);
  }
  Decision refused = rl.take(42, t0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_ms, 100u);
  EXPECT_EQ(refused.full_after_ms, 500u);
  // 99 ms later still nothing; at 100 ms one more, then nothing again.
  EXPECT_FALSE(rl.take(42, t0 + 99 * kMs).allowed);
  EXPECT_TRUE(rl.take(42, t0 + 100 * kMs).allowed);
  EXPECT_FALSE(rl.take(42, t0 + 100 * kMs).allowed);
  // Another key has its own bucket.
  EXPECT_TRUE(rl.take(43, t0).allowed);
  // After a quiet second the bucket is whole again.
  int passed = 0;
  for (int i = 0; i < 10; ++i) passed += rl.take(42, t0 + 2000 * kMs).allowed;
  EXPECT_EQ(passed, 5);
}

TEST(RateLimiter, SlowRatesAndAWholeRouteKey) {
  RateLimiter rl(2, 60 * 1000, 2, 1);  // 2 per minute
  EXPECT_EQ(rl.slotCount(), 4u);
  const uint64_t t0 = 5 * kMs;
  EXPECT_TRUE(rl.take(0, t0).allowed);
  EXPECT_TRUE(rl.take(0, t0).allowed);
  Decision d = rl.take(0, t0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_ms, 30000u);
  EXPECT_TRUE(rl.take(0, t0 + 30000 * kMs).allowed);
}

TEST(RateLimiter, AMillionDistinctAddressesKeepMemoryFixedAndTheHotKeyLimited) {
  RateLimiter rl(100, 1000, 10, 65536);  // 100/s per address, 10 at once
  const size_t bytes = rl.memoryBytes();
  EXPECT_EQ(bytes, 65536u * 16);
  const uint64_t hot = upstream::hashKey("198.51.100.7");
  uint64_t now = 10 * kMs;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(rl.take(hot, now).allowed);
  ASSERT_FALSE(rl.take(hot, now).allowed);
  // A million other clients, one request each, over one second; the hot one keeps trying.
  uint64_t hot_passed = 0;
  for (uint32_t i = 0; i < 1000000; ++i) {
    now += 1000;  // 1 µs apart
    const std::string ip = std::to_string(10 + (i >> 16)) + "." + std::to_string((i >> 8) & 255) +
                           "." + std::to_string(i & 255) + ".1";
    ASSERT_TRUE(rl.take(upstream::hashKey(ip), now).allowed) << ip;
    if (i % 1000 == 0) hot_passed += rl.take(hot, now).allowed;
  }
  EXPECT_EQ(rl.memoryBytes(), bytes);
  // 1,000 tries over one second at 100/s: about 100 pass, never the 1,000 a forgotten key
  // would get (one per interval, plus the slack of the integer interval).
  EXPECT_GE(hot_passed, 95u);
  EXPECT_LE(hot_passed, 101u);
}

TEST(RateLimiter, WorkersSharingATableLetThroughExactlyTheBurst) {
  RateLimiter rl(1, 3600 * 1000, 1000, 16);  // 1000 at once, then one an hour
  std::atomic<int> passed{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w)
    workers.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) passed += rl.take(7, 50 * kMs).allowed;
    });
  for (auto& t : workers) t.join();
  EXPECT_EQ(passed.load(), 1000);
}

}  // namespace
}  // namespace lb::ratelimit
