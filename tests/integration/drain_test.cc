// Drain under load: clients keep sending over keep-alive connections while one host is
// drained. No request fails, no request sent after the drain call returned reaches the
// drained host, and the host reports drained once its in-flight requests are done.
#include <gtest/gtest.h>

#include <atomic>
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

int64_t nowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Answers after a short pause, so requests are in flight when the drain starts.
BackendHandler slowOk(const std::string& name) {
  return [name](const BackendRequest&, BackendConnection& conn) {
    std::this_thread::sleep_for(5ms);
    conn.write(simpleResponse(200, name));
  };
}

TEST(Drain, UnderLoadNoFailureAndNoNewRequestToTheDrainedHost) {
  TestBackend h1(slowOk("h1")), h2(slowOk("h2")), h3(slowOk("h3"));
  TestConfig cfg;
  cfg.hosts = {h1.address(), h2.address(), h3.address()};
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  AdminClient admin(proxy.adminPort());

  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, sent{0}, reconnects{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      auto client = std::make_unique<TestClient>(proxy.port());
      for (int i = 0; i < 3000 && !stop; ++i) {
        // Each request carries the time it was sent (same clock as the drain call below).
        std::string req =
            "GET /api/products HTTP/1.1\r\nHost: shop\r\nX-Sent-At: " + std::to_string(nowNanos()) +
            "\r\n\r\n";
        auto resp = client->send(req) ? client->read() : std::nullopt;
        ++sent;
        if (!resp || resp->status != 200) ++failures;
        const std::string* conn = resp ? resp->header("Connection") : nullptr;
        if (!resp || (conn && *conn == "close")) {
          ++reconnects;
          client = std::make_unique<TestClient>(proxy.port());
        }
      }
    });
  }
  ASSERT_TRUE(waitUntil([&] { return h1.requestCount() >= 50; }, 20s));
  AdminResponse drain =
      admin.call("PUT", "/v1/clusters/app/hosts/h1/state", R"({"state":"drain"})");
  const int64_t drain_returned = nowNanos();
  ASSERT_EQ(drain.status, 200) << drain.text;
  EXPECT_EQ(drain.body["state"], "drain");

  // Keep the load on for a while after the drain.
  const int sent_at_drain = sent.load();
  ASSERT_TRUE(waitUntil([&] { return sent.load() >= sent_at_drain + 400; }, 30s));
  stop = true;
  for (auto& t : clients) t.join();

  EXPECT_EQ(failures.load(), 0);
  int late = 0;
  for (const auto& r : h1.requests()) {
    const std::string* at = r.header("X-Sent-At");
    ASSERT_TRUE(at);
    if (std::stoll(*at) > drain_returned) ++late;
  }
  EXPECT_EQ(late, 0) << "requests sent after the drain call returned reached h1";
  EXPECT_GT(h2.requestCount() + h3.requestCount(), 400u);

  auto host = admin.host("app", "h1");
  EXPECT_EQ(host["active_requests"], 0);
  EXPECT_EQ(host["drained"], true);
  EXPECT_EQ(host["connections"]["idle"], 0);
  EXPECT_EQ(reconnects.load(), 0) << "client keep-alive connections are not affected by a drain";
}

TEST(Drain, ActiveRequestsCountDownAndTheDeadlineClosesStragglers) {
  // h1 holds its requests open for a long time; h2 answers at once.
  Gate release;  // the test opens it when the held requests may finish
  TestBackend h1([&](const BackendRequest&, BackendConnection& conn) {
    release.wait(10s);
    conn.write(simpleResponse(200, "h1"));
  });
  TestBackend h2([](const BackendRequest&, BackendConnection& conn) {
    conn.write(simpleResponse(200, "h2"));
  });
  TestConfig cfg;
  cfg.hosts = {h1.address(), h2.address()};
  cfg.workers = 1;
  cfg.route_timeout = "30s";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  AdminClient admin(proxy.adminPort());

  // Two requests stuck on h1 (round robin: h1, h2, h1, h2).
  std::vector<std::unique_ptr<TestClient>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<TestClient>(proxy.port()));
    held.back()->send("GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
  }
  ASSERT_TRUE(waitUntil([&] { return h1.requestCount() == 2; }, 10s));
  AdminResponse drain =
      admin.call("PUT", "/v1/clusters/app/hosts/h1/state", R"({"state":"drain","deadline":"1s"})");
  ASSERT_EQ(drain.status, 200) << drain.text;
  EXPECT_EQ(drain.body["active_requests"], 2);
  EXPECT_EQ(drain.body["drained"], false);
  EXPECT_EQ(admin.call("DELETE", "/v1/clusters/app/hosts/h1").status, 409)
      << "not drained yet: removal refused";

  // The deadline passes: the two requests are cut, and the host reports drained.
  ASSERT_TRUE(waitUntil([&] { return admin.host("app", "h1")["drained"] == true; }, 10s));
  EXPECT_EQ(admin.host("app", "h1")["active_requests"], 0);
  int cut = 0, ok = 0;
  for (auto& c : held) {
    auto resp = c->read(false, 5s);
    if (resp && resp->status == 200) ++ok;
    if (resp && resp->status == 502) ++cut;
  }
  EXPECT_EQ(ok, 2);   // the h2 ones
  EXPECT_EQ(cut, 2);  // the h1 ones, answered 502 before any response byte
  release.open();
  EXPECT_EQ(admin.call("DELETE", "/v1/clusters/app/hosts/h1").status, 200);
}

// Regression: a pooled upstream connection kept the host's index from the view it was opened
// in; after a host before it was removed, a request reusing it counted (and, with fewer hosts,
// read) another slot. Found when a rolling update crashed lbproxy.
TEST(Drain, PooledConnectionsStayWithTheirHostWhenIndicesMove) {
  TestBackend h1(answers("h1")), h2(answers("h2")), h3(answers("h3"));
  TestConfig cfg;
  cfg.hosts = {h1.address(), h2.address(), h3.address()};
  cfg.workers = 1;
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  AdminClient admin(proxy.adminPort());
  TestClient client(proxy.port());
  auto get = [&] {
    client.send("GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
    auto r = client.read();
    return r ? r->status : 0;
  };
  for (int i = 0; i < 6; ++i) ASSERT_EQ(get(), 200);  // idle pooled connections to all three
  ASSERT_EQ(admin.call("DELETE", "/v1/clusters/app/hosts/h1?force=true").status, 200);
  for (int i = 0; i < 12; ++i) ASSERT_EQ(get(), 200) << "request " << i;
  for (const char* id : {"h2", "h3"}) {
    auto h = admin.host("app", id);
    EXPECT_EQ(h["active_requests"], 0) << id << ": every request counted back on its own host";
  }
  EXPECT_EQ(h3.requestCount(), 2u + 6u);
}

}  // namespace
}  // namespace lb::test
