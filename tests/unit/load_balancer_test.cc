// Balancer distribution and skipping rules.
#include "proxy/upstream/load_balancer.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace lb::upstream {
namespace {

struct Pool {
  std::vector<std::unique_ptr<HostState>> states;
  std::vector<std::unique_ptr<HostLoad>> loads;
  std::vector<LbHost> hosts;
  Random random{42};

  explicit Pool(std::vector<uint32_t> weights) {
    for (size_t i = 0; i < weights.size(); ++i) {
      auto s = std::make_unique<HostState>();
      s->id = "h" + std::to_string(i);
      s->weight = weights[i];
      loads.push_back(std::make_unique<HostLoad>());
      hosts.push_back(LbHost{s.get(), loads.back().get()});
      states.push_back(std::move(s));
    }
  }
};

std::vector<int> countPicks(LoadBalancer& lb, size_t hosts, int n, PickContext ctx = {}) {
  std::vector<int> counts(hosts, 0);
  for (int i = 0; i < n; ++i) {
    int h = lb.pick(ctx);
    EXPECT_NE(h, LoadBalancer::kNoHost);
    if (h >= 0) counts[static_cast<size_t>(h)]++;
  }
  return counts;
}

TEST(RoundRobin, SmoothWeightedOrder) {
  Pool pool({5, 1, 1});
  auto lb = makeLoadBalancer(config::BalancerKind::kRoundRobin, pool.hosts, pool.random);
  std::string order;
  for (int i = 0; i < 7; ++i) order += std::to_string(lb->pick({}));
  // nginx's smooth weighted round robin interleaves instead of bursting: a a b a c a a.
  EXPECT_EQ(order, "0010200");
}

TEST(RoundRobin, EqualWeightsRotate) {
  Pool pool({1, 1, 1});
  auto lb = makeLoadBalancer(config::BalancerKind::kRoundRobin, pool.hosts, pool.random);
  auto counts = countPicks(*lb, 3, 300);
  EXPECT_EQ(counts, (std::vector<int>{100, 100, 100}));
}

TEST(AllBalancers, SkipUnusableAndTriedHosts) {
  for (auto kind : {config::BalancerKind::kRoundRobin, config::BalancerKind::kLeastRequest,
                    config::BalancerKind::kRandom}) {
    Pool pool({1, 1, 1});
    auto lb = makeLoadBalancer(kind, pool.hosts, pool.random);
    pool.states[0]->admin = AdminState::kDrain;
    pool.states[1]->health = Health::kUnhealthy;
    auto counts = countPicks(*lb, 3, 100);
    EXPECT_EQ(counts[2], 100) << config::balancerName(kind);

    std::vector<uint32_t> tried{2};
    PickContext ctx;
    ctx.tried = &tried;
    EXPECT_EQ(lb->pick(ctx), LoadBalancer::kNoHost) << config::balancerName(kind);
  }
}

TEST(AllBalancers, SkipCheckingAndEjectedHosts) {
  for (auto kind : {config::BalancerKind::kRoundRobin, config::BalancerKind::kLeastRequest,
                    config::BalancerKind::kRandom}) {
    Pool pool({1, 1, 1});
    auto lb = makeLoadBalancer(kind, pool.hosts, pool.random);
    pool.states[0]->health = Health::kChecking;  // a new host not yet passed its checks
    pool.states[1]->ejected = true;
    auto counts = countPicks(*lb, 3, 100);
    EXPECT_EQ(counts[2], 100) << config::balancerName(kind);
  }
}

// Slow start: a host that just became usable gets 10% of its share, growing linearly to all
// of it at the end of the ramp. Time is passed in, so the test controls it.
TEST(SlowStart, RampsEffectiveWeightOverTheWindow) {
  HostState h;
  h.weight = 2;
  h.ramp_ms = 10000;
  h.ramp_start_ms = 1000;
  EXPECT_EQ(h.effectiveWeight(1000), 2 * kWeightScale / 10);  // floor at 10%
  EXPECT_EQ(h.effectiveWeight(6000), 2 * kWeightScale / 2);
  EXPECT_EQ(h.effectiveWeight(11000), 2 * kWeightScale);
  EXPECT_EQ(h.effectiveWeight(50000), 2 * kWeightScale);

  for (auto kind : {config::BalancerKind::kRoundRobin, config::BalancerKind::kRandom}) {
    Pool pool({1, 1});
    pool.states[1]->ramp_ms = 10000;
    pool.states[1]->ramp_start_ms = 0;
    auto lb = makeLoadBalancer(kind, pool.hosts, pool.random);
    auto share = [&](int64_t now) {
      PickContext ctx;
      ctx.now_ms = now;
      auto counts = countPicks(*lb, 2, 20000, ctx);
      return counts[1] / 20000.0;
    };
    EXPECT_NEAR(share(0), 0.1 / 1.1, 0.02) << config::balancerName(kind);
    EXPECT_NEAR(share(5000), 0.5 / 1.5, 0.02) << config::balancerName(kind);
    EXPECT_NEAR(share(10000), 0.5, 0.02) << config::balancerName(kind);
  }
}

TEST(Random, FollowsWeights) {
  Pool pool({1, 3});
  auto lb = makeLoadBalancer(config::BalancerKind::kRandom, pool.hosts, pool.random);
  auto counts = countPicks(*lb, 2, 40000);
  double share = counts[1] / 40000.0;
  EXPECT_NEAR(share, 0.75, 0.02);
}

TEST(LeastRequest, PrefersTheLessLoadedHost) {
  Pool pool({1, 1});
  auto lb = makeLoadBalancer(config::BalancerKind::kLeastRequest, pool.hosts, pool.random);
  pool.hosts[0].load->active_requests = 10;
  auto counts = countPicks(*lb, 2, 1000);
  // With two hosts, P2C picks both candidates, so the idle one always wins.
  EXPECT_EQ(counts[1], 1000);
  pool.hosts[0].load->active_requests = 0;
  auto even = countPicks(*lb, 2, 10000);
  EXPECT_NEAR(even[0] / 10000.0, 0.5, 0.05);
}

TEST(RingHash, SameKeySameHostAndEvenSpread) {
  Pool pool({1, 1, 1});
  auto lb = makeLoadBalancer(config::BalancerKind::kRingHash, pool.hosts, pool.random);
  std::vector<int> counts(3, 0);
  for (int user = 0; user < 3000; ++user) {
    PickContext ctx;
    ctx.has_hash = true;
    ctx.hash = hashKey("user-" + std::to_string(user));
    int first = lb->pick(ctx);
    ASSERT_GE(first, 0);
    EXPECT_EQ(lb->pick(ctx), first) << "sticky";
    counts[static_cast<size_t>(first)]++;
  }
  for (int c : counts) EXPECT_NEAR(c / 3000.0, 1.0 / 3, 0.08);
}

TEST(RingHash, RemovingAHostMovesOnlyItsKeys) {
  Pool pool({1, 1, 1});
  auto lb = makeLoadBalancer(config::BalancerKind::kRingHash, pool.hosts, pool.random);
  std::map<int, int> before;
  for (int user = 0; user < 2000; ++user) {
    PickContext ctx{nullptr, 0, true, hashKey("u" + std::to_string(user))};
    before[user] = lb->pick(ctx);
  }
  pool.states[1]->admin = AdminState::kMaint;
  for (int user = 0; user < 2000; ++user) {
    PickContext ctx{nullptr, 0, true, hashKey("u" + std::to_string(user))};
    int now = lb->pick(ctx);
    EXPECT_NE(now, 1);
    if (before[user] != 1) {
      EXPECT_EQ(now, before[user]) << "key " << user << " moved needlessly";
    }
  }
}

}  // namespace
}  // namespace lb::upstream
