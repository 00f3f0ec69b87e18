// Rate limits per route (docs/rate-limits.md), through a real lbproxy with two workers: one
// client's burst passes and the rest get 429 with Retry-After, RateLimit-Policy and RateLimit,
// on a connection that stays open; the limit holds across connections spread over both
// workers; keys by header and by the PROXY protocol's client address are separate buckets; a
// dry run forwards everything and counts; a reload keeps the buckets; metrics and /v1/stats
// count what was limited.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/admin_client.h"
#include "tests/support/child_process.h"
#include "tests/support/configs.h"
#include "tests/support/proxy_process.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_client.h"
#include "tests/support/test_util.h"

namespace lb::test {
namespace {

std::string limitedYaml(const TestBackend& backend, const std::string& limit,
                        const std::string& listener_extra = "") {
  TestConfig cfg;
  cfg.hosts = {backend.address()};
  cfg.workers = 2;
  cfg.listener_extra = listener_extra;
  cfg.routes =
      "      - match: { path_prefix: / }\n        cluster: app\n        timeout: 5s\n"
      "        rate_limit: " +
      limit + "\n";
  return cfg.yaml();
}

std::unique_ptr<ProxyProcess> limitedProxy(const TestBackend& backend, const std::string& limit,
                                           const std::string& listener_extra = "") {
  return std::make_unique<ProxyProcess>(limitedYaml(backend, limit, listener_extra));
}

void rewrite(const std::string& path, const std::string& yaml) {
  std::string tmp = path + ".tmp";
  std::ofstream(tmp) << yaml;
  std::rename(tmp.c_str(), path.c_str());
}

std::string get(const std::string& extra = "") {
  return "GET /x HTTP/1.1\r\nHost: a\r\n" + extra + "\r\n";
}

// One request on a new connection; its status (0: no answer).
int statusOnNewConnection(const ProxyProcess& proxy, const std::string& request) {
  TestClient c(proxy.port());
  if (!c.send(request)) return 0;
  auto r = c.read();
  return r ? r->status : 0;
}

TEST(RateLimit, TheBurstPassesThenA429WithItsHeadersOnAConnectionThatStays) {
  TestBackend backend(answers("ok"));
  auto proxy = limitedProxy(backend, "{ rate: 6/m, burst: 3 }");
  ASSERT_TRUE(proxy->ok()) << proxy->process().output();
  TestClient c(proxy->port());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.send(get()));
    auto r = c.read();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->status, 200) << i;
    EXPECT_FALSE(r->header("RateLimit")) << i;  // by default only on the 429s
  }
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(c.send(get()));
    auto r = c.read();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->status, 429);
    // 6 a minute: the next in 10 s; the bucket of 3 is whole again in 30 s.
    ASSERT_TRUE(r->header("Retry-After"));
    const int retry_after = std::stoi(*r->header("Retry-After"));
    EXPECT_GE(retry_after, 9);
    EXPECT_LE(retry_after, 10);
    ASSERT_TRUE(r->header("RateLimit-Policy"));
    EXPECT_EQ(*r->header("RateLimit-Policy"), "\"public:/\";q=3;w=30");
    ASSERT_TRUE(r->header("RateLimit"));
    EXPECT_TRUE(r->header("RateLimit")->starts_with("\"public:/\";r=0;t="))
        << *r->header("RateLimit");
    EXPECT_NE(r->body.find("rate limit exceeded"), std::string::npos) << r->body;
  }
  EXPECT_EQ(backend.requestCount(), 3u);
  auto log = proxy->waitAccessLog(5);
  size_t limited = 0;
  for (const std::string& line : log)
    limited += jsonField(line, "status") == "429" && jsonField(line, "error") == "rate_limited";
  EXPECT_EQ(limited, 2u);
}

TEST(RateLimit, WithHeadersAlwaysEveryResponseSaysWhatIsLeft) {
  TestBackend backend(answers("ok"));
  auto proxy = limitedProxy(backend, "{ rate: 6/m, burst: 3, headers: always }");
  ASSERT_TRUE(proxy->ok()) << proxy->process().output();
  TestClient c(proxy->port());
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(c.send(get()));
    auto r = c.read();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->status, i < 3 ? 200 : 429) << i;
    ASSERT_TRUE(r->header("RateLimit-Policy")) << i;
    EXPECT_EQ(*r->header("RateLimit-Policy"), "\"public:/\";q=3;w=30");
    ASSERT_TRUE(r->header("RateLimit")) << i;
    // The bucket of 3 drains by one a request; each response says what is left.
    const std::string left = "\"public:/\";r=" + std::to_string(i < 3 ? 2 - i : 0) + ";t=";
    EXPECT_TRUE(r->header("RateLimit")->starts_with(left)) << i << " " << *r->header("RateLimit");
    EXPECT_EQ(r->header("Retry-After") != nullptr, i == 3) << i;
    size_t fields = 0;
    for (const auto& [name, value] : r->headers) fields += iequals(name, "ratelimit");
    EXPECT_EQ(fields, 1u) << i;
  }
  EXPECT_EQ(backend.requestCount(), 3u);
}

TEST(RateLimit, Http2StreamsOverTheLimitGet429AndTheConnectionGoesOn) {
  TestBackend backend(answers("served"));
  auto proxy = limitedProxy(backend, "{ rate: 1/h, burst: 2 }", "    http2: { cleartext: true }\n");
  ASSERT_TRUE(proxy->ok()) << proxy->process().output();
  // Five streams on one h2c connection: two pass, three are answered 429 on their stream.
  std::vector<std::string> argv = {"/usr/bin/nghttp"};
  for (int i = 0; i < 5; ++i)
    argv.push_back("http://127.0.0.1:" + std::to_string(proxy->port()) + "/h" + std::to_string(i));
  ChildProcess nghttp;
  ASSERT_TRUE(nghttp.start(argv));
  ASSERT_EQ(nghttp.waitExit(std::chrono::seconds(20)), 0) << nghttp.output();
  const std::string out = nghttp.output();
  auto count = [&](const std::string& what) {
    size_t n = 0;
    for (size_t at = out.find(what); at != std::string::npos; at = out.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("served"), 2u) << out;
  EXPECT_EQ(count("rate limit exceeded"), 3u) << out;
  EXPECT_EQ(backend.requestCount(), 2u);
}

TEST(RateLimit, OneLimitAcrossConnectionsOnBothWorkers) {
  TestBackend backend(answers("ok"));
  auto proxy = limitedProxy(backend, "{ rate: 1/h, burst: 10 }");
  ASSERT_TRUE(proxy->ok()) << proxy->process().output();
  // 40 connections, one request each: the kernel spreads them over both workers, and the
  // client address is the same on all of them.
  int passed = 0, limited = 0;
  for (int i = 0; i < 40; ++i) {
    const int status = statusOnNewConnection(*proxy, get());
    passed += status == 200;
    limited += status == 429;
  }
  EXPECT_EQ(passed, 10);
  EXPECT_EQ(limited, 30);
  AdminClient admin(proxy->adminPort());
  auto metrics = admin.call("GET", "/metrics").text;
  EXPECT_NE(
      metrics.find("lbproxy_route_rate_limited_total{mode=\"enforced\",route=\"public:/\"} 30"),
      std::string::npos)
      << metrics.substr(0, 800);
  auto stats = admin.get("/v1/stats?window=60s").body;
  EXPECT_EQ(stats["routes"]["public:/"]["rate_limited"], 30) << stats.dump();
}

TEST(RateLimit, EightClientsOnTwoWorkersGetTheRateWithinAFewPercent) {
  // 8 keep-alive clients send as fast as they can for about 1.5 s into one route-wide limit
  // of 200/s (burst 20). What passes is the bucket plus the rate over the time they sent,
  // whatever worker each connection is on. (The clock here measures the limiter against the
  // time it was given, not the proxy's speed.)
  TestBackend backend(answers("ok"));
  auto proxy = limitedProxy(backend, "{ rate: 200/s, burst: 20, key: route }");
  ASSERT_TRUE(proxy->ok()) << proxy->process().output();
  std::atomic<int> passed{0}, limited{0}, other{0};
  const auto start = std::chrono::steady_clock::now();
  const auto stop_at = start + std::chrono::milliseconds(1500);
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t)
    clients.emplace_back([&] {
      TestClient c(proxy->port());
      for (int i = 0; i < 20000 && std::chrono::steady_clock::now() < stop_at; ++i) {
        if (!c.send(get())) break;
        auto r = c.read();
        if (!r) break;
        (r->status == 200 ? passed : r->status == 429 ? limited : other)++;
      }
    });
  for (auto& t : clients) t.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double expected = 20 + 200 * seconds;
  EXPECT_EQ(other.load(), 0);
  EXPECT_GT(limited.load(), passed.load());  // the clients did press against the limit
  EXPECT_LE(passed.load(), expected * 1.03 + 1) << seconds << " s";
  EXPECT_GE(passed.load(), expected * 0.95) << seconds << " s";
}

TEST(RateLimit, KeyedByAHeaderEachValueHasItsOwnBucket) {
  TestBackend backend(answers("ok"));
  auto proxy = limitedProxy(backend, "{ rate: 1/h, burst: 2, key: { header: X-Api-Key } }");
  ASSERT_TRUE(proxy->ok()) << proxy->process().output();
  for (const std::string key : {"alpha", "beta"}) {
    int passed = 0;
    for (int i = 0; i < 4; ++i)
      passed += statusOnNewConnection(*proxy, get("X-Api-Key: " + key + "\r\n")) == 200;
    EXPECT_EQ(passed, 2) << key;
  }
  // Without the header the client's address is the key: a bucket of its own too.
  int passed = 0;
  for (int i = 0; i < 4; ++i) passed += statusOnNewConnection(*proxy, get()) == 200;
  EXPECT_EQ(passed, 2);
}

TEST(RateLimit, ThePROXYProtocolsClientAddressIsTheKey) {
  TestBackend backend(answers("ok"));
  auto proxy = limitedProxy(backend, "{ rate: 1/h, burst: 2 }",
                            "    proxy_protocol: { trusted: [127.0.0.0/8] }\n");
  ASSERT_TRUE(proxy->ok()) << proxy->process().output();
  for (const std::string client : {"203.0.113.1", "203.0.113.2"}) {
    int passed = 0, limited = 0;
    for (int i = 0; i < 4; ++i) {
      const int status =
          statusOnNewConnection(*proxy, "PROXY TCP4 " + client + " 127.0.0.1 4000 80\r\n" + get());
      passed += status == 200;
      limited += status == 429;
    }
    EXPECT_EQ(passed, 2) << client;
    EXPECT_EQ(limited, 2) << client;
  }
}

TEST(RateLimit, ADryRunForwardsEverythingAndCounts) {
  TestBackend backend(answers("ok"));
  auto proxy = limitedProxy(backend, "{ rate: 1/h, burst: 2, dry_run: true }");
  ASSERT_TRUE(proxy->ok()) << proxy->process().output();
  for (int i = 0; i < 6; ++i) EXPECT_EQ(statusOnNewConnection(*proxy, get()), 200) << i;
  EXPECT_EQ(backend.requestCount(), 6u);
  AdminClient admin(proxy->adminPort());
  auto metrics = admin.call("GET", "/metrics").text;
  EXPECT_NE(metrics.find("lbproxy_route_rate_limited_total{mode=\"dry_run\",route=\"public:/\"} 4"),
            std::string::npos)
      << metrics.substr(0, 800);
  EXPECT_NE(
      metrics.find("lbproxy_route_rate_limited_total{mode=\"enforced\",route=\"public:/\"} 0"),
      std::string::npos);
}

TEST(RateLimit, AReloadKeepsTheBucketsAndAChangedLimitStartsAfresh) {
  TestBackend backend(answers("ok"));
  auto proxy = limitedProxy(backend, "{ rate: 1/h, burst: 2 }");
  ASSERT_TRUE(proxy->ok()) << proxy->process().output();
  for (int i = 0; i < 2; ++i) ASSERT_EQ(statusOnNewConnection(*proxy, get()), 200);
  ASSERT_EQ(statusOnNewConnection(*proxy, get()), 429);
  AdminClient admin(proxy->adminPort());
  ASSERT_EQ(admin.call("POST", "/v1/config/reload").status, 200);
  // The same limit on the same route: a reload gives no one a fresh burst.
  EXPECT_EQ(statusOnNewConnection(*proxy, get()), 429);
  // A drain (a runtime change that rebuilds the snapshot) neither.
  ASSERT_EQ(admin.call("PUT", "/v1/clusters/app/hosts/h1/state", R"({"state":"drain"})").status,
            200);
  ASSERT_EQ(admin.call("PUT", "/v1/clusters/app/hosts/h1/state", R"({"state":"ready"})").status,
            200);
  EXPECT_EQ(statusOnNewConnection(*proxy, get()), 429);
  // A new limit is a new table.
  rewrite(proxy->configPath(), limitedYaml(backend, "{ rate: 1/h, burst: 3 }"));
  ASSERT_EQ(admin.call("POST", "/v1/config/reload").status, 200);
  int passed = 0;
  for (int i = 0; i < 5; ++i) passed += statusOnNewConnection(*proxy, get()) == 200;
  EXPECT_EQ(passed, 3);
}

}  // namespace
}  // namespace lb::test
