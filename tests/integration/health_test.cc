// Active health checks (rise/fall thresholds, new hosts gated until healthy), passive outlier
// ejection (growing ejection time, max_ejection_percent) and slow start, on real sockets.
#include <gtest/gtest.h>

#include <atomic>

#include "tests/support/admin_client.h"
#include "tests/support/configs.h"
#include "tests/support/proxy_process.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_client.h"
#include "tests/support/test_util.h"

namespace lb::test {
namespace {

using namespace std::chrono_literals;

// A backend whose /health answers 200 or 503 as the test says, and whose other paths
// answer with its name (or 500 when `fail_requests`).
struct FlippingBackend {
  std::atomic<bool> healthy{true};
  std::atomic<int> fail_checks{0};  // this many checks answer 503 first, whatever `healthy`
  std::atomic<bool> fail_requests{false};
  std::atomic<int> served{0};
  std::atomic<int> checks{0};  // health checks answered
  std::string name;
  TestBackend backend;

  explicit FlippingBackend(std::string n)
      : name(std::move(n)), backend([this](const BackendRequest& req, BackendConnection& conn) {
          if (req.target == "/health") {
            bool up = healthy;
            if (fail_checks.load() > 0 && fail_checks.fetch_sub(1) > 0) up = false;
            conn.write(simpleResponse(up ? 200 : 503, up ? "UP" : "DOWN"));
            ++checks;
            return;
          }
          ++served;
          conn.write(simpleResponse(fail_requests ? 500 : 200, name));
        }) {}
};

constexpr const char* kChecks =
    "    health_check: { path: /health, interval: 100ms, timeout: 100ms, healthy_threshold: 2, "
    "unhealthy_threshold: 3 }\n";

std::string healthOf(const AdminClient& admin, const std::string& id) {
  auto h = admin.host("app", id);
  return h.is_null() ? "" : h["health"].get<std::string>();
}

TEST(HealthCheck, FlippingBackendLeavesAndReturnsByThresholds) {
  FlippingBackend a("a"), b("b");
  TestConfig cfg;
  cfg.hosts = {a.backend.address(), b.backend.address()};
  cfg.cluster_extra = kChecks;
  cfg.workers = 1;
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  AdminClient admin(proxy.adminPort());
  ASSERT_TRUE(waitUntil([&] { return healthOf(admin, "h1") == "healthy"; }, 10s));
  ASSERT_TRUE(waitUntil([&] { return healthOf(admin, "h2") == "healthy"; }, 10s));

  a.healthy = false;
  ASSERT_TRUE(waitUntil([&] { return healthOf(admin, "h1") == "unhealthy"; }, 10s));
  auto h1 = admin.host("app", "h1");
  EXPECT_EQ(h1["last_check"], "bad_status");
  EXPECT_EQ(h1["usable"], false);
  int before = a.served;
  for (int i = 0; i < 20; ++i) ASSERT_EQ(httpGet(proxy.port(), "/x")->body, "b");
  EXPECT_EQ(a.served, before);

  a.healthy = true;
  ASSERT_TRUE(waitUntil([&] { return healthOf(admin, "h1") == "healthy"; }, 10s));
  for (int i = 0; i < 20; ++i) ASSERT_EQ(httpGet(proxy.port(), "/x")->status, 200);
  EXPECT_EQ(a.served, before + 10);

  // The threshold, not the first failure, takes a host out: a single failed check between
  // passes leaves it healthy (3 failures are needed). Counted in checks, not in time: the
  // failed one, then two more (so its result has been taken in).
  a.fail_checks = 1;
  ASSERT_TRUE(waitUntil([&] { return a.fail_checks.load() <= 0; }, 10s));
  const int after_failure = a.checks;
  ASSERT_TRUE(waitUntil([&] { return a.checks >= after_failure + 2; }, 10s));
  EXPECT_EQ(healthOf(admin, "h1"), "healthy");
  EXPECT_NE(proxy.process().output().find("host app/h1 is now unhealthy"), std::string::npos);
}

TEST(HealthCheck, NewHostGetsNoTrafficUntilHealthy) {
  FlippingBackend a("a"), fresh("fresh");
  fresh.healthy = false;
  TestConfig cfg;
  cfg.hosts = {a.backend.address()};
  cfg.cluster_extra = kChecks;
  cfg.workers = 1;
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  AdminClient admin(proxy.adminPort());
  ASSERT_TRUE(waitUntil([&] { return healthOf(admin, "h1") == "healthy"; }, 10s));

  AdminResponse added =
      admin.call("POST", "/v1/clusters/app/hosts",
                 R"({"id":"new","address":")" + fresh.backend.address() + R"("})");
  ASSERT_EQ(added.status, 201) << added.text;
  EXPECT_EQ(added.body["health"], "checking");
  EXPECT_EQ(added.body["usable"], false);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(httpGet(proxy.port(), "/x")->body, "a");
  ASSERT_TRUE(waitUntil([&] { return healthOf(admin, "new") == "unhealthy"; }, 10s));
  for (int i = 0; i < 10; ++i) ASSERT_EQ(httpGet(proxy.port(), "/x")->body, "a");
  EXPECT_EQ(fresh.served, 0);

  fresh.healthy = true;
  ASSERT_TRUE(waitUntil([&] { return healthOf(admin, "new") == "healthy"; }, 10s));
  for (int i = 0; i < 20; ++i) ASSERT_EQ(httpGet(proxy.port(), "/x")->status, 200);
  EXPECT_EQ(fresh.served, 10);
}

TEST(HealthCheck, MaintHostIsNotChecked) {
  // h2 is checked on the same schedule as h1: its checks are the clock of this test.
  FlippingBackend b("b"), witness("witness");
  TestConfig cfg;
  cfg.hosts = {b.backend.address(), witness.backend.address()};
  cfg.cluster_extra = kChecks;
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  AdminClient admin(proxy.adminPort());
  ASSERT_TRUE(waitUntil([&] { return b.checks >= 2; }, 10s));
  ASSERT_EQ(admin.call("PUT", "/v1/clusters/app/hosts/h1/state", R"({"state":"maint"})").status,
            200);
  // A check of h1 already under way may finish: two rounds of the witness cover it.
  int witnessed = witness.checks;
  ASSERT_TRUE(waitUntil([&] { return witness.checks >= witnessed + 2; }, 10s));
  const int frozen = b.checks;
  witnessed = witness.checks;
  ASSERT_TRUE(waitUntil([&] { return witness.checks >= witnessed + 5; }, 10s));
  EXPECT_EQ(b.checks.load(), frozen) << "five rounds of checks went by, none for h1";
  ASSERT_EQ(admin.call("PUT", "/v1/clusters/app/hosts/h1/state", R"({"state":"ready"})").status,
            200);
  EXPECT_TRUE(waitUntil([&] { return b.checks > frozen; }, 5s));
}

TEST(OutlierDetection, EjectsWithGrowingTimeAndRespectsMaxPercent) {
  FlippingBackend bad("bad"), good("good");
  bad.fail_requests = true;
  TestConfig cfg;
  cfg.hosts = {bad.backend.address(), good.backend.address()};
  cfg.workers = 1;
  cfg.cluster_extra =
      // Long enough that the ten requests below finish inside it on a loaded machine (ASan).
      "    outlier_detection: { consecutive_5xx: 3, base_ejection_time: 2s, "
      "max_ejection_time: 10s, max_ejection_percent: 50 }\n";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  AdminClient admin(proxy.adminPort());

  // Round robin: every other request goes to the bad host until it is ejected.
  int errors = 0;
  for (int i = 0; i < 6; ++i) errors += httpGet(proxy.port(), "/x")->status == 500;
  EXPECT_EQ(errors, 3);
  auto h1 = admin.host("app", "h1");
  EXPECT_EQ(h1["ejected"], true);
  EXPECT_EQ(h1["ejections"], 1);
  EXPECT_EQ(h1["last_ejection_ms"], 2000);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(httpGet(proxy.port(), "/x")->body, "good");

  // Back after the ejection time; three more failures eject it for twice as long.
  ASSERT_TRUE(waitUntil([&] { return admin.host("app", "h1")["ejected"] == false; }, 10s));
  for (int i = 0; i < 6; ++i) httpGet(proxy.port(), "/x");
  h1 = admin.host("app", "h1");
  EXPECT_EQ(h1["ejected"], true);
  EXPECT_EQ(h1["ejections"], 2);
  EXPECT_EQ(h1["last_ejection_ms"], 4000);

  // Now the good host fails too: ejecting it would eject 100% of the cluster (> 50%).
  good.fail_requests = true;
  for (int i = 0; i < 6; ++i) httpGet(proxy.port(), "/x");
  EXPECT_EQ(admin.host("app", "h2")["ejected"], false);
  EXPECT_NE(proxy.process().output().find("max_ejection_percent"), std::string::npos);
}

TEST(SlowStart, NewHostRampsUp) {
  FlippingBackend old_host("old"), fresh("fresh");
  TestConfig cfg;
  cfg.hosts = {old_host.backend.address()};
  cfg.workers = 1;
  cfg.cluster_extra = "    slow_start: 60s\n";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  AdminClient admin(proxy.adminPort());
  ASSERT_EQ(admin
                .call("POST", "/v1/clusters/app/hosts",
                      R"({"id":"new","address":")" + fresh.backend.address() + R"("})")
                .status,
            201);
  for (int i = 0; i < 200; ++i) ASSERT_EQ(httpGet(proxy.port(), "/x")->status, 200);
  // Equal weights would give the new host half. Early in a 60 s ramp it gets about 10%
  // (the floor) plus what the seconds of this loop have added; well below a third.
  EXPECT_GT(fresh.served, 0);
  EXPECT_LT(fresh.served, 200 / 3) << "slow start did not hold the new host back";
}

}  // namespace
}  // namespace lb::test
