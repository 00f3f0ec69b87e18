// Cluster limits (docs/limits.md): a host is never sent more requests at once than
// max_requests_per_host, nor more connections than max_connections_per_host; the requests
// beyond wait in a bounded queue, oldest first, and get 503 upstream_overloaded when it is full
// or their queue timeout passes; a client that gives up leaves the queue; the queue depth is
// in /v1/clusters and /metrics. Real backends on loopback, holding requests at a gate so that
// "the backend is busy" is an event the test controls.
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
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

using namespace std::chrono_literals;

// A backend that holds every request until the test lets it go: `permit(n)` lets the next n
// answer in the order they reached the handler, `release(target)` lets one target answer. It
// counts the requests in its handler at once (and the most ever), and knows which targets it
// holds and the order they arrived in. Arrival order is the order the backend's connection
// threads got to them, which for requests sent close together on different connections is the
// scheduler's choice, not the proxy's: a test that needs the proxy's order releases by target.
class HeldBackend {
 public:
  HeldBackend()
      : backend_([this](const BackendRequest& req, BackendConnection& conn) { serve(req, conn); }) {
  }
  ~HeldBackend() { permitAll(); }

  std::string address() const { return backend_.address(); }
  TestBackend& backend() { return backend_; }

  // Lets the next n held requests answer, oldest first.
  void permit(int n) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      released_ += n;
    }
    cv_.notify_all();
  }
  void permitAll() { permit(1 << 20); }
  void release(const std::string& target) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      released_targets_.insert(target);
    }
    cv_.notify_all();
  }
  // Waits (bounded) until the targets held are exactly `targets`.
  bool waitHolding(const std::set<std::string>& targets) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 20s, [&] { return holding_ == targets; });
  }
  std::set<std::string> holding() {
    std::lock_guard<std::mutex> lock(mu_);
    return holding_;
  }
  // Waits (bounded) until exactly `n` requests are held.
  bool waitHeld(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 20s, [&] { return in_flight_ == n; });
  }
  int maxInFlight() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_in_flight_;
  }
  std::vector<std::string> arrivals() {
    std::lock_guard<std::mutex> lock(mu_);
    return arrivals_;
  }

 private:
  void serve(const BackendRequest& req, BackendConnection& conn) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      const int order = static_cast<int>(arrivals_.size());
      arrivals_.push_back(req.target);
      holding_.insert(req.target);
      ++in_flight_;
      max_in_flight_ = std::max(max_in_flight_, in_flight_);
      cv_.notify_all();
      cv_.wait_for(lock, 30s,
                   [&] { return released_ > order || released_targets_.count(req.target) > 0; });
      holding_.erase(req.target);
      --in_flight_;
      cv_.notify_all();
    }
    conn.write(simpleResponse(200, "ok " + req.target));
  }

  std::mutex mu_;
  std::condition_variable cv_;
  int released_ = 0;  // requests allowed to answer, in arrival order
  int in_flight_ = 0;
  int max_in_flight_ = 0;
  std::vector<std::string> arrivals_;
  std::set<std::string> holding_;
  std::set<std::string> released_targets_;
  TestBackend backend_;  // last: its threads stop before the members they use go
};

std::unique_ptr<ProxyProcess> proxyWithLimits(const std::string& address, const std::string& limits,
                                              int workers = 1) {
  TestConfig cfg;
  cfg.listener_extra = "    http2: { cleartext: true }\n";
  cfg.hosts = {address};
  cfg.workers = workers;
  cfg.route_timeout = "30s";
  cfg.cluster_extra = "    limits: " + limits + "\n";
  return std::make_unique<ProxyProcess>(cfg.yaml());
}

uint64_t queuedNow(AdminClient& admin) {
  auto body = admin.get("/v1/clusters/app").body;
  return body["limits"]["queued"].get<uint64_t>();
}

bool waitQueued(AdminClient& admin, uint64_t n) {
  return waitUntil([&] { return queuedNow(admin) == n; }, 20s);
}

std::string get(const std::string& target) {
  return "GET " + target + " HTTP/1.1\r\nHost: a\r\n\r\n";
}

TEST(Limits, AHostSeesAtMostItsCapAndTheRestWaitInOrder) {
  HeldBackend held;
  auto proxy = proxyWithLimits(held.address(),
                               "{ max_requests_per_host: 3, max_queued: 50, queue_timeout: 30s }");
  ASSERT_TRUE(proxy->ok()) << proxy->process().output();
  AdminClient admin(proxy->adminPort());
  // Three fill the host; nine more queue, each one in before the next is sent, so that
  // their order is known.
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 12; ++i) {
    clients.push_back(std::make_unique<TestClient>(proxy->port()));
    ASSERT_TRUE(clients.back()->send(get("/r" + std::to_string(i))));
    if (i < 3) {
      ASSERT_TRUE(held.waitHeld(i + 1)) << i;
    } else {
      ASSERT_TRUE(waitQueued(admin, i - 2)) << i << ": " << queuedNow(admin);
    }
  }
  auto metrics = admin.call("GET", "/metrics").text;
  EXPECT_NE(metrics.find("lbproxy_cluster_queued_requests{cluster=\"app\"} 9"), std::string::npos)
      << metrics.substr(0, 600);
  EXPECT_NE(metrics.find("lbproxy_cluster_limit{cluster=\"app\",kind=\"max_requests_per_host\"} 3"),
            std::string::npos);
  EXPECT_EQ(admin.get("/v1/clusters/app").body["hosts"][0]["active_requests"], 3);
  // One answer at a time: each frees one place, and the oldest waiting request takes it, so
  // after /r<i> answers the host holds exactly /r<i+1> .. /r<i+3>.
  auto target = [](int i) { return "/r" + std::to_string(i); };
  for (int i = 0; i < 12; ++i) {
    held.release(target(i));
    auto r = clients[i]->read();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->status, 200) << i;
    EXPECT_EQ(r->body, "ok " + target(i));
    std::set<std::string> next;
    for (int k = i + 1; k <= std::min(i + 3, 11); ++k) next.insert(target(k));
    ASSERT_TRUE(held.waitHolding(next)) << i << ": " << held.holding().size();
  }
  EXPECT_EQ(held.maxInFlight(), 3);
  EXPECT_EQ(held.arrivals().size(), 12u);
  EXPECT_EQ(queuedNow(admin), 0u);
}

TEST(Limits, ManyClientsAtOnceNeverPassTheCapSummedOverWorkers) {
  // Two workers split max_requests_per_host: 4 as 2 + 2; 40 clients at once.
  HeldBackend held;
  auto proxy = proxyWithLimits(
      held.address(), "{ max_requests_per_host: 4, max_queued: 100, queue_timeout: 30s }", 2);
  ASSERT_TRUE(proxy->ok()) << proxy->process().output();
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 40; ++i) {
    clients.push_back(std::make_unique<TestClient>(proxy->port()));
    ASSERT_TRUE(clients.back()->send(get("/m" + std::to_string(i))));
  }
  AdminClient admin(proxy->adminPort());
  // Every request is either held at the backend or waiting in a queue.
  ASSERT_TRUE(waitUntil(
      [&] {
        auto c = admin.get("/v1/clusters/app").body;
        return c["limits"]["queued"].get<uint64_t>() +
                   c["hosts"][0]["active_requests"].get<uint64_t>() ==
               40;
      },
      20s));
  held.permitAll();
  for (int i = 0; i < 40; ++i) {
    auto r = clients[i]->read();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->status, 200) << i;
  }
  EXPECT_LE(held.maxInFlight(), 4);
  EXPECT_GE(held.maxInFlight(), 2);  // at least one worker's share was used at once
}

TEST(Limits, AFullQueueAnswers503AtOnceAndIsCounted) {
  HeldBackend held;
  auto proxy = proxyWithLimits(held.address(),
                               "{ max_requests_per_host: 1, max_queued: 2, queue_timeout: 30s }");
  ASSERT_TRUE(proxy->ok()) << proxy->process().output();
  AdminClient admin(proxy->adminPort());
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<TestClient>(proxy->port()));
    ASSERT_TRUE(clients.back()->send(get("/q" + std::to_string(i))));
    if (i == 0) {
      ASSERT_TRUE(held.waitHeld(1));
    }
  }
  ASSERT_TRUE(waitQueued(admin, 2));
  // The fourth finds the host busy and the queue full.
  TestClient late(proxy->port());
  ASSERT_TRUE(late.send(get("/late")));
  auto refused = late.read();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  held.permitAll();
  for (int i = 0; i < 3; ++i) {
    auto r = clients[i]->read();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->status, 200) << i;
  }
  for (const std::string& target : held.arrivals()) EXPECT_NE(target, "/late");
  auto log = proxy->waitAccessLog(4);
  size_t overloaded = 0;
  for (const std::string& line : log)
    overloaded += jsonField(line, "error") == "upstream_overloaded";
  EXPECT_EQ(overloaded, 1u);
  auto metrics = admin.call("GET", "/metrics").text;
  EXPECT_NE(metrics.find("lbproxy_route_upstream_errors_total{reason=\"upstream_overloaded\","
                         "route=\"public:/\"} 1"),
            std::string::npos)
      << metrics.substr(0, 800);
}

TEST(Limits, WithoutAQueueTheRequestBeyondTheCapGets503) {
  HeldBackend held;
  auto proxy = proxyWithLimits(held.address(), "{ max_requests_per_host: 1 }");
  ASSERT_TRUE(proxy->ok()) << proxy->process().output();
  TestClient first(proxy->port());
  ASSERT_TRUE(first.send(get("/first")));
  ASSERT_TRUE(held.waitHeld(1));
  auto second = httpGet(proxy->port(), "/second");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 503);
  held.permit(1);
  auto r = first.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  // The place is free again: the next request goes through.
  held.permit(1);
  auto third = httpGet(proxy->port(), "/third");
  ASSERT_TRUE(third);
  EXPECT_EQ(third->status, 200);
}

TEST(Limits, AWaitingRequestGets503WhenItsQueueTimeoutPasses) {
  HeldBackend held;
  auto proxy = proxyWithLimits(held.address(),
                               "{ max_requests_per_host: 1, max_queued: 5, queue_timeout: 200ms }");
  ASSERT_TRUE(proxy->ok()) << proxy->process().output();
  TestClient first(proxy->port());
  ASSERT_TRUE(first.send(get("/first")));
  ASSERT_TRUE(held.waitHeld(1));
  auto waited = httpGet(proxy->port(), "/waited");
  ASSERT_TRUE(waited);
  EXPECT_EQ(waited->status, 503);
  AdminClient admin(proxy->adminPort());
  EXPECT_EQ(queuedNow(admin), 0u);
  held.permitAll();
  auto r = first.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(held.arrivals(), std::vector<std::string>{"/first"});
  auto log = proxy->waitAccessLog(2);
  bool timed_out = false;
  for (const std::string& line : log) {
    const double queued_ms = std::stod(jsonField(line, "queue_time_ms"));
    if (jsonField(line, "path") == "/first") {
      EXPECT_EQ(queued_ms, 0.0) << line;
    }
    if (jsonField(line, "path") != "/waited") continue;
    timed_out = jsonField(line, "error") == "upstream_overloaded" &&
                jsonField(line, "error_detail").find("queue timeout") != std::string::npos;
    // The whole queue timeout was spent waiting (a lower bound: the timer fires no earlier).
    EXPECT_GE(queued_ms, 199.0) << line;
  }
  EXPECT_TRUE(timed_out) << log.size();
}

TEST(Limits, RoomFreedThroughTheClusterWakesARequestQueuedInASubset) {
  // One host with room for one request, reached two ways: route /all through the cluster,
  // route /v1 through its label subset (a split's destination). Each way has its own queue.
  HeldBackend held;
  TestConfig cfg;
  cfg.route_timeout = "30s";
  cfg.workers = 1;
  cfg.routes =
      "      - match: { path_prefix: /all }\n        cluster: web\n        timeout: 30s\n"
      "      - match: { path_prefix: /v1 }\n        timeout: 30s\n"
      "        destinations: [{ cluster: web, subset: { version: 1.0.0 } }]\n";
  cfg.clusters_extra =
      versionedCluster("web", {{"a", held.address(), "1.0.0"}}) +
      "    limits: { max_requests_per_host: 1, max_queued: 10, queue_timeout: 30s }\n";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  AdminClient admin(proxy.adminPort());
  auto queued = [&] { return admin.get("/v1/clusters/web").body["limits"]["queued"]; };

  TestClient first(proxy.port());
  ASSERT_TRUE(first.send(get("/all/1")));
  ASSERT_TRUE(held.waitHolding({"/all/1"}));
  TestClient second(proxy.port());
  ASSERT_TRUE(second.send(get("/v1/2")));
  ASSERT_TRUE(waitUntil([&] { return queued() == 1; }, 20s));
  // The cluster's request ends: its room goes to the subset's waiting request at once (not
  // at its queue timeout, 30 s on).
  held.release("/all/1");
  auto r = first.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  ASSERT_TRUE(held.waitHolding({"/v1/2"}));
  EXPECT_EQ(queued(), 0);
  held.release("/v1/2");
  r = second.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok /v1/2");
  EXPECT_EQ(held.maxInFlight(), 1);
}

TEST(Limits, AClientThatGivesUpLeavesTheQueue) {
  HeldBackend held;
  auto proxy = proxyWithLimits(held.address(),
                               "{ max_requests_per_host: 1, max_queued: 10, queue_timeout: 30s }");
  ASSERT_TRUE(proxy->ok()) << proxy->process().output();
  AdminClient admin(proxy->adminPort());
  TestClient first(proxy->port());
  ASSERT_TRUE(first.send(get("/first")));
  ASSERT_TRUE(held.waitHeld(1));
  auto quitter = std::make_unique<TestClient>(proxy->port());
  ASSERT_TRUE(quitter->send(get("/quitter")));
  ASSERT_TRUE(waitQueued(admin, 1));
  TestClient patient(proxy->port());
  ASSERT_TRUE(patient.send(get("/patient")));
  ASSERT_TRUE(waitQueued(admin, 2));
  quitter.reset();  // closes: its request, not yet sent, leaves the queue
  ASSERT_TRUE(waitQueued(admin, 1));
  held.permitAll();
  auto a = first.read();
  auto b = patient.read();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->status, 200);
  EXPECT_EQ(b->status, 200);
  EXPECT_EQ(b->body, "ok /patient");
  EXPECT_EQ(held.arrivals(), (std::vector<std::string>{"/first", "/patient"}));
}

TEST(Limits, AConnectionCapHoldsConnectionsAndRequestsToIt) {
  HeldBackend held;
  auto proxy = proxyWithLimits(
      held.address(), "{ max_connections_per_host: 2, max_queued: 20, queue_timeout: 30s }");
  ASSERT_TRUE(proxy->ok()) << proxy->process().output();
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 8; ++i) {
    clients.push_back(std::make_unique<TestClient>(proxy->port()));
    ASSERT_TRUE(clients.back()->send(get("/c" + std::to_string(i))));
  }
  ASSERT_TRUE(held.waitHeld(2));
  AdminClient admin(proxy->adminPort());
  ASSERT_TRUE(waitQueued(admin, 6));
  held.permitAll();
  for (int i = 0; i < 8; ++i) {
    auto r = clients[i]->read();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->status, 200) << i;
  }
  EXPECT_EQ(held.maxInFlight(), 2);
  // The queued requests went over the two connections, kept alive: no third was opened.
  EXPECT_EQ(held.backend().connections(), 2);
}

TEST(Limits, Http2StreamsWaitInTheSameQueue) {
  HeldBackend held;
  auto proxy = proxyWithLimits(held.address(),
                               "{ max_requests_per_host: 2, max_queued: 20, queue_timeout: 30s }");
  ASSERT_TRUE(proxy->ok()) << proxy->process().output();
  AdminClient admin(proxy->adminPort());
  // Six streams on one h2c connection (nghttp sends them together).
  std::vector<std::string> argv = {"/usr/bin/nghttp"};
  for (int i = 0; i < 6; ++i)
    argv.push_back("http://127.0.0.1:" + std::to_string(proxy->port()) + "/s" + std::to_string(i));
  ChildProcess nghttp;
  ASSERT_TRUE(nghttp.start(argv));
  ASSERT_TRUE(held.waitHeld(2)) << held.arrivals().size() << " " << nghttp.output();
  ASSERT_TRUE(waitQueued(admin, 4));
  held.permitAll();
  ASSERT_EQ(nghttp.waitExit(20s), 0) << nghttp.output();
  std::string out = nghttp.output();
  for (int i = 0; i < 6; ++i)
    EXPECT_NE(out.find("ok /s" + std::to_string(i)), std::string::npos) << out;
  EXPECT_EQ(held.maxInFlight(), 2);
}

}  // namespace
}  // namespace lb::test
