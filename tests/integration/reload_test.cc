// Hot reload: 100 reloads under constant load without a failed request; an invalid file
// leaves the running config; listeners come and go; a request in flight finishes on the
// configuration it started with.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "tests/support/admin_client.h"
#include "tests/support/configs.h"
#include "tests/support/proxy_process.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_client.h"
#include "tests/support/test_util.h"

namespace lb::test {
namespace {

using namespace std::chrono_literals;

void rewrite(const std::string& path, const std::string& yaml) {
  std::string tmp = path + ".tmp";
  std::ofstream(tmp) << yaml;
  std::rename(tmp.c_str(), path.c_str());
}

TEST(Reload, HundredReloadsUnderLoadFailNothing) {
  TestBackend a(answers("a")), b(answers("b"));
  TestConfig one, two;
  one.hosts = {a.address()};
  two.hosts = {a.address(), b.address()};
  two.route_timeout = "7s";
  two.balancer = "least_request";
  ProxyProcess proxy(one.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  AdminClient admin(proxy.adminPort());

  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, done{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 3; ++t) {
    clients.emplace_back([&, t] {
      auto client = std::make_unique<TestClient>(proxy.port());
      for (int i = 0; i < 20000 && !stop; ++i) {
        // One client keeps its connection, the others open a new one now and then.
        if (t > 0 && i % 25 == 0) client = std::make_unique<TestClient>(proxy.port());
        auto resp =
            client->send("GET /x HTTP/1.1\r\nHost: a\r\n\r\n") ? client->read() : std::nullopt;
        if (!resp || resp->status != 200) {
          ++failures;
          client = std::make_unique<TestClient>(proxy.port());
        }
        ++done;
      }
    });
  }
  int ok_reloads = 0;
  for (int i = 0; i < 100; ++i) {
    rewrite(proxy.configPath(), (i % 2 ? one : two).yaml());
    AdminResponse r = admin.call("POST", "/v1/config/reload");
    ok_reloads += r.status == 200;
    EXPECT_EQ(r.status, 200) << r.text;
    // Requests go through on the new config before the next reload.
    const int before = done;
    ASSERT_TRUE(waitUntil([&] { return done > before; }, 10s));
  }
  int after_reloads = done;
  ASSERT_TRUE(waitUntil([&] { return done > after_reloads + 100; }, 10s));
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok_reloads, 100);
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(done.load(), 300);
  EXPECT_EQ(admin.get("/v1/status").body["config_version"], 101);
  EXPECT_GT(b.requestCount(), 0u) << "the two-host config was served";
}

TEST(Reload, InvalidFileKeepsTheRunningConfig) {
  TestBackend a(answers("a"));
  TestConfig cfg;
  cfg.hosts = {a.address()};
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  AdminClient admin(proxy.adminPort());

  std::string broken = cfg.yaml();
  broken.replace(broken.find("balancer: round_robin"), 21, "balancer: fastest");
  broken.replace(broken.find("        timeout: 5s"), 19, "        timeout: soon");
  rewrite(proxy.configPath(), broken);
  AdminResponse r = admin.call("POST", "/v1/config/reload");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(r.body["error"]["code"], "invalid_config");
  ASSERT_EQ(r.body["errors"].size(), 2u) << r.text;
  EXPECT_EQ(r.body["errors"][0]["field"], "listeners[0].routes[0].timeout");
  EXPECT_EQ(r.body["errors"][0]["line"], 9);
  EXPECT_EQ(r.body["errors"][0]["column"], 18);
  EXPECT_EQ(r.body["errors"][1]["field"], "clusters[0].balancer");
  EXPECT_GT(r.body["errors"][1]["column"].get<int>(), 0);
  EXPECT_EQ(httpGet(proxy.port(), "/")->status, 200);
  EXPECT_EQ(admin.get("/v1/status").body["config_version"], 1);
  EXPECT_EQ(admin.get("/v1/status").body["reloads"]["failed"], 1);

  // A new listener on a port that is taken: the reload fails as a whole, nothing changes.
  std::string taken = cfg.yaml();
  taken.replace(taken.find("clusters:"), 0,
                "  - name: extra\n    listen: " + a.address() +
                    "\n    routes:\n      - { match: { path_prefix: / }, cluster: app }\n");
  taken.replace(taken.find("        timeout: 5s"), 19, "        timeout: 6s");
  rewrite(proxy.configPath(), taken);
  AdminResponse bind_failed = admin.call("POST", "/v1/config/reload");
  EXPECT_EQ(bind_failed.status, 422) << bind_failed.text;
  EXPECT_EQ(bind_failed.body["error"]["code"], "reload_failed");
  EXPECT_NE(bind_failed.body["error"]["message"].get<std::string>().find("listener extra"),
            std::string::npos);
  EXPECT_EQ(admin.get("/v1/status").body["listeners"].size(), 1u);
  EXPECT_EQ(admin.get("/v1/status").body["reloads"]["failed"], 2);
  EXPECT_EQ(httpGet(proxy.port(), "/")->status, 200);
  rewrite(proxy.configPath(), broken);

  // SIGHUP with the same file: logged with file:line:col, the config stays.
  proxy.process().signal(SIGHUP);
  ASSERT_TRUE(proxy.process().waitForLine("reload failed", 10s));
  EXPECT_NE(proxy.process().output().find(proxy.configPath() + ":9:18:"), std::string::npos);
  EXPECT_EQ(httpGet(proxy.port(), "/")->status, 200);
}

TEST(Reload, ListenersAreAddedAndRemoved) {
  TestBackend a(answers("a"));
  TestConfig cfg;
  cfg.hosts = {a.address()};
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  AdminClient admin(proxy.adminPort());

  // Add a second listener on a port we pick (the first on 127.0.0.2 keeps its socket).
  uint16_t extra_port = refusedPort();
  std::string with_extra = cfg.yaml();
  with_extra.replace(with_extra.find("clusters:"), 0,
                     "  - name: extra\n    listen: 127.0.0.1:" + std::to_string(extra_port) +
                         "\n    routes:\n      - { match: { path_prefix: / }, cluster: app }\n");
  rewrite(proxy.configPath(), with_extra);
  TestClient kept(proxy.port());  // a keep-alive connection on the listener that stays
  ASSERT_TRUE(kept.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  ASSERT_EQ(kept.read()->status, 200);
  ASSERT_EQ(admin.call("POST", "/v1/config/reload").status, 200);
  auto resp = httpGet(extra_port, "/");
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 200);
  ASSERT_TRUE(kept.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  EXPECT_EQ(kept.read()->status, 200) << "connections of a kept listener carry on";

  TestClient on_extra(extra_port);
  ASSERT_TRUE(on_extra.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  ASSERT_EQ(on_extra.read()->status, 200);
  rewrite(proxy.configPath(), cfg.yaml());
  ASSERT_EQ(admin.call("POST", "/v1/config/reload").status, 200);
  EXPECT_FALSE(TestClient(extra_port).send("GET / HTTP/1.1\r\nHost: a\r\n\r\n") &&
               httpGet(extra_port, "/"))
      << "the removed listener no longer accepts";
  // Its idle keep-alive connection is closed; the kept listener still serves.
  EXPECT_TRUE(on_extra.waitClosed(5s));
  EXPECT_EQ(httpGet(proxy.port(), "/")->status, 200);
}

TEST(Reload, InFlightRequestFinishesOnItsSnapshot) {
  Gate release;  // the test opens it when the held requests may finish
  TestBackend old_host([&](const BackendRequest&, BackendConnection& conn) {
    release.wait(5s);
    conn.write(simpleResponse(200, "old"));
  });
  TestBackend new_host(answers("new"));
  TestConfig before, after;
  before.hosts = {old_host.address()};
  after.hosts = {new_host.address()};
  ProxyProcess proxy(before.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  AdminClient admin(proxy.adminPort());

  TestClient slow(proxy.port());
  ASSERT_TRUE(slow.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n"));
  ASSERT_TRUE(waitUntil([&] { return old_host.requestCount() == 1; }, 10s));
  rewrite(proxy.configPath(), after.yaml());
  ASSERT_EQ(admin.call("POST", "/v1/config/reload").status, 200);
  EXPECT_EQ(httpGet(proxy.port(), "/")->body, "new");
  release.open();
  auto resp = slow.read();
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(resp->body, "old");
  // The next request on that connection uses the new configuration.
  ASSERT_TRUE(slow.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  EXPECT_EQ(slow.read()->body, "new");
}

}  // namespace
}  // namespace lb::test
