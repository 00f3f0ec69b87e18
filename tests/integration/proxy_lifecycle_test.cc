// Process-level behaviour: --check, graceful shutdown with requests in flight, SIGUSR1 log
// reopen, and the demo instance the demo and benchmarks run behind the proxy.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "tests/support/configs.h"
#include "tests/support/proxy_process.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_client.h"
#include "tests/support/test_util.h"

namespace lb::test {
namespace {

using namespace std::chrono_literals;

TEST(ProxyLifecycle, CheckPrintsEveryErrorAndExits1) {
  TempDir dir;
  std::string bad = dir.write("bad.yaml",
                              "workers: x\nlisteners:\n  - name: p\n    listen: 127.0.0.1:1\n"
                              "    routes: [{ cluster: nope }]\nclusters: []\n");
  ChildProcess check;
  ASSERT_TRUE(check.start({lbproxyBinary(), "--check", "-c", bad}));
  ASSERT_EQ(check.waitExit(10s), 1);
  std::string out = check.output();
  EXPECT_NE(out.find(bad + ":1:10: workers: invalid number \"x\""), std::string::npos) << out;
  EXPECT_NE(out.find(bad + ":5:25: listeners[0].routes[0].cluster: unknown cluster \"nope\""),
            std::string::npos)
      << out;

  ChildProcess good;
  ASSERT_TRUE(good.start({lbproxyBinary(), "--check", "-c",
                          std::string(LB_SOURCE_DIR) + "/config/examples/demo.yaml"}));
  EXPECT_EQ(good.waitExit(10s), 0) << good.output();

  // Starting (not only --check) on an invalid file fails the same way, before binding.
  ChildProcess start;
  ASSERT_TRUE(start.start({lbproxyBinary(), "-c", bad}));
  EXPECT_EQ(start.waitExit(10s), 1);
  EXPECT_NE(start.output().find("unknown cluster"), std::string::npos);
}

TEST(ProxyLifecycle, GracefulShutdownFinishesInFlightRequests) {
  Gate answer;  // the backend answers once SIGTERM has been sent
  TestBackend slow([&](const BackendRequest& req, BackendConnection& conn) {
    answer.wait();
    conn.write(simpleResponse(200, "done " + req.target));
  });
  TestConfig cfg;
  cfg.hosts = {slow.address()};
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  uint16_t port = proxy.port();

  // An idle keep-alive connection and two requests in flight when SIGTERM arrives.
  TestClient idle(port);
  TestClient a(port), b(port);
  ASSERT_TRUE(a.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(b.send("GET /b HTTP/1.1\r\nHost: x\r\n\r\n"));
  // Both requests are at the backend: in flight when SIGTERM arrives.
  ASSERT_TRUE(waitUntil([&] { return slow.requestCount() == 2; }, 10s));
  proxy.process().signal(SIGTERM);
  EXPECT_TRUE(idle.waitClosed(3s)) << "idle connections are closed at once";
  answer.open();

  auto ra = a.read(false, 5s);
  auto rb = b.read(false, 5s);
  ASSERT_TRUE(ra);
  ASSERT_TRUE(rb);
  EXPECT_EQ(ra->status, 200);
  EXPECT_EQ(ra->body, "done /a");
  EXPECT_EQ(rb->body, "done /b");
  ASSERT_NE(ra->header("Connection"), nullptr);
  EXPECT_EQ(*ra->header("Connection"), "close") << "the last response on a connection says so";
  EXPECT_TRUE(a.waitClosed(3s));
  EXPECT_EQ(proxy.process().waitExit(10s), 0) << proxy.process().output();

  TestClient late(port);
  EXPECT_FALSE(late.connected() && late.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n") &&
               late.read(false, 1s))
      << "no new requests after shutdown";
}

TEST(ProxyLifecycle, ShutdownDeadlineCutsRequestsThatTakeTooLong) {
  Gate answer;  // opened only after the proxy has given up on the request
  TestBackend stuck([&](const BackendRequest&, BackendConnection& conn) {
    answer.wait();
    conn.write(simpleResponse(200, "too late"));
  });
  TestConfig cfg;
  cfg.hosts = {stuck.address()};
  cfg.route_timeout = "30s";
  cfg.shutdown_timeout = "500ms";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  TestClient c(proxy.port());
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(waitUntil([&] { return stuck.requestCount() == 1; }, 10s));
  proxy.process().signal(SIGTERM);
  // The backend never answers while the proxy runs: only the 500ms shutdown deadline can
  // end the request, and the proxy must exit by itself.
  auto resp = c.read(false, 10s);
  EXPECT_FALSE(resp && resp->status == 200) << "cut at the 500ms shutdown deadline";
  EXPECT_TRUE(c.waitClosed(1s));
  EXPECT_EQ(proxy.process().waitExit(10s), 0);
  answer.open();
}

TEST(ProxyLifecycle, Sigusr1ReopensTheAccessLogForRotation) {
  TestBackend backend(
      [](const BackendRequest&, BackendConnection& conn) { conn.write(simpleResponse(200, "x")); });
  TempDir dir;
  std::string log_path = dir.path() + "/access.log";
  TestConfig cfg;
  cfg.hosts = {backend.address()};
  std::string yaml = cfg.yaml();
  yaml.replace(yaml.find("access_log: { path: /dev/stdout }"), std::string::npos,
               "access_log: { path: \"" + log_path + "\" }\n");
  ProxyProcess proxy(yaml);
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();

  auto countLines = [](const std::string& path) {
    std::ifstream in(path);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) n += !line.empty();
    return n;
  };
  auto waitLines = [&](const std::string& path, int n) {
    waitUntil([&] { return countLines(path) >= n; }, 4s);
    return countLines(path);
  };
  ASSERT_TRUE(httpGet(proxy.port(), "/one"));
  EXPECT_EQ(waitLines(log_path, 1), 1);
  std::filesystem::rename(log_path, log_path + ".1");
  proxy.process().signal(SIGUSR1);
  ASSERT_TRUE(proxy.process().waitForLine("reopening the access log", 5s));
  ASSERT_TRUE(httpGet(proxy.port(), "/two"));
  EXPECT_EQ(waitLines(log_path, 1), 1) << "the new file gets the new lines";
  EXPECT_EQ(countLines(log_path + ".1"), 1) << "the rotated file keeps the old ones";
}

TEST(DemoInstance, ServesTheOpenMarketApiBehindTheProxy) {
  ChildProcess demo1, demo2;
  uint16_t p1 = refusedPort(), p2 = refusedPort();
  ASSERT_TRUE(demo1.start({demoInstanceBinary(), "--port", std::to_string(p1), "--instance",
                           "app-1", "--version", "1.2.3", "--latency-scale", "0"}));
  ASSERT_TRUE(demo2.start({demoInstanceBinary(), "--port", std::to_string(p2), "--instance",
                           "app-2", "--version", "1.2.3", "--latency-scale", "0"}));
  ASSERT_TRUE(demo1.waitForLine("listening", 10s)) << demo1.output();
  ASSERT_TRUE(demo2.waitForLine("listening", 10s)) << demo2.output();
  TestConfig cfg;
  cfg.hosts = {"127.0.0.1:" + std::to_string(p1), "127.0.0.1:" + std::to_string(p2)};
  cfg.workers = 1;
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();

  std::set<std::string> instances;
  for (int i = 0; i < 4; ++i) {
    auto resp = httpGet(proxy.port(), "/api/products");
    ASSERT_TRUE(resp);
    EXPECT_EQ(resp->status, 200);
    ASSERT_NE(resp->header("X-Instance"), nullptr);
    EXPECT_EQ(*resp->header("X-App-Version"), "1.2.3");
    instances.insert(*resp->header("X-Instance"));
  }
  EXPECT_EQ(instances, (std::set<std::string>{"app-1", "app-2"}));

  auto product = httpGet(proxy.port(), "/api/products/7");
  ASSERT_TRUE(product);
  EXPECT_NE(product->body.find("\"id\":7"), std::string::npos) << product->body;
  EXPECT_EQ(httpGet(proxy.port(), "/api/search?q=shoe")->status, 200);
  EXPECT_EQ(httpGet(proxy.port(), "/api/nothing")->status, 404);

  TestClient post(proxy.port());
  post.send("POST /api/orders HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}");
  EXPECT_EQ(post.read()->status, 201);

  // Health can be turned DOWN at runtime (the health checker of a later issue reads it).
  auto health = httpGet(p1, "/actuator/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_NE(health->body.find("UP"), std::string::npos);
  TestClient down(p1);
  down.send("POST /admin/health/down HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(down.read());
  auto after = httpGet(p1, "/actuator/health");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 503);
  EXPECT_NE(after->body.find("DOWN"), std::string::npos);
}

}  // namespace
}  // namespace lb::test
