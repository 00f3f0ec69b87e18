// Retry policy per route (docs/retries.md): a broken instance answering 500 to everything,
// behind the route's `retry: { on: [5xx] }`, costs clients nothing; POSTs are not sent twice
// unless the route says so; a held request body (Content-Length or chunked) goes out again
// whole, one too large for the buffer is not retried; resets and per-try timeouts move on to
// another host; the cluster's retry budget stops retries (and counts them) when every host
// fails; the last answer goes to the client when no host is left. Real backends on loopback.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string>

#include "tests/support/admin_client.h"
#include "tests/support/configs.h"
#include "tests/support/proxy_process.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_client.h"
#include "tests/support/test_util.h"

namespace lb::test {
namespace {

using namespace std::chrono_literals;

BackendHandler answering(int status, const std::string& name) {
  return [status, name](const BackendRequest& req, BackendConnection& conn) {
    conn.write(simpleResponse(status, name + " " + req.method + " " + req.target + " " +
                                          std::to_string(req.body_bytes) + " " +
                                          (req.body.size() < 64 ? req.body : "")));
  };
}

// One broken host (500 to everything) and two good ones, round robin, one worker.
struct ThreeHosts {
  TestBackend broken{answering(500, "broken")};
  TestBackend good1{answering(200, "good1")};
  TestBackend good2{answering(200, "good2")};
  std::unique_ptr<ProxyProcess> proxy;

  explicit ThreeHosts(const std::string& retry, const std::string& cluster_extra = "") {
    TestConfig cfg;
    cfg.hosts = {broken.address(), good1.address(), good2.address()};
    cfg.workers = 1;
    cfg.cluster_extra = cluster_extra;
    cfg.routes =
        "      - match: { path_prefix: / }\n        cluster: app\n        timeout: 5s\n" + retry;
    proxy = std::make_unique<ProxyProcess>(cfg.yaml());
  }
  size_t brokenRequests() { return broken.requestCount(); }
};

std::optional<ClientResponse> send(const ProxyProcess& proxy, const std::string& request) {
  TestClient c(proxy.port());
  if (!c.send(request)) return std::nullopt;
  return c.read();
}

TEST(Retry, ABrokenHostAnswering500CostsGetRequestsNothing) {
  ThreeHosts hosts("        retry: { on: [5xx] }\n");
  ASSERT_TRUE(hosts.proxy->ok()) << hosts.proxy->process().output();
  const int kRequests = 300;
  int failed = 0;
  for (int i = 0; i < kRequests; ++i) {
    auto r = httpGet(hosts.proxy->port(), "/g" + std::to_string(i));
    if (!r || r->status != 200) ++failed;
  }
  EXPECT_EQ(failed, 0);
  // Round robin sent a third of them to the broken host first; each of those was retried.
  EXPECT_GE(hosts.brokenRequests(), kRequests / 3 - 1);
  auto log = hosts.proxy->waitAccessLog(kRequests);
  size_t retried = 0;
  for (const std::string& line : log) retried += jsonField(line, "retries") == "1";
  EXPECT_EQ(retried, hosts.brokenRequests());
  AdminClient admin(hosts.proxy->adminPort());
  auto metrics = admin.call("GET", "/metrics");
  EXPECT_NE(metrics.text.find("lbproxy_route_retries_total{route=\"public:/\"} " +
                              std::to_string(hosts.brokenRequests())),
            std::string::npos)
      << metrics.text.substr(0, 400);
  // The broken host's 500s were counted on it, though no client saw them.
  auto stats = admin.get("/v1/stats?window=60s").body;
  const auto& broken = stats["clusters"]["app"]["h1"];
  EXPECT_EQ(broken["responses"]["5xx"], hosts.brokenRequests()) << broken.dump();
  EXPECT_EQ(stats["routes"]["public:/"]["responses"]["5xx"], 0) << stats.dump();
}

TEST(Retry, PostsAreNotRetriedUnlessTheRouteSaysSo) {
  for (bool allowed : {false, true}) {
    ThreeHosts hosts("        retry: { on: [5xx]" +
                     std::string(allowed ? ", non_idempotent: true" : "") + " }\n");
    ASSERT_TRUE(hosts.proxy->ok()) << hosts.proxy->process().output();
    int server_errors = 0;
    for (int i = 0; i < 30; ++i) {
      auto r =
          send(*hosts.proxy, "POST /order HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nitem" +
                                 std::to_string(i % 10));
      ASSERT_TRUE(r) << i;
      server_errors += r->status == 500;
    }
    if (allowed) {
      EXPECT_EQ(server_errors, 0);
    } else {
      // Every POST that went to the broken host first came back with its 500, once.
      EXPECT_EQ(server_errors, 10);
      EXPECT_EQ(hosts.good1.requestCount() + hosts.good2.requestCount() + hosts.brokenRequests(),
                30u);
    }
  }
}

TEST(Retry, AHeldBodyGoesOutAgainWhole) {
  ThreeHosts hosts("        retry: { on: [5xx], buffer_body: 4KiB }\n");
  ASSERT_TRUE(hosts.proxy->ok()) << hosts.proxy->process().output();
  // Three PUTs: whichever hits the broken host first is retried with its body.
  for (int i = 0; i < 3; ++i) {
    auto r = send(*hosts.proxy,
                  "PUT /cart HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_NE(r->body.find("PUT /cart 11 hello world"), std::string::npos) << r->body;
  }
  // Chunked, in two pieces: the retry sends both again, re-chunked.
  for (int i = 0; i < 3; ++i) {
    TestClient c(hosts.proxy->port());
    ASSERT_TRUE(
        c.send("PUT /chunked HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5\r\nhello\r\n"));
    ASSERT_TRUE(c.send("6\r\n world\r\n0\r\n\r\n"));
    auto r = c.read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_NE(r->body.find("PUT /chunked 11 hello world"), std::string::npos) << r->body;
  }
  EXPECT_EQ(hosts.brokenRequests(), 2u);
  for (const BackendRequest& req : hosts.broken.requests()) EXPECT_EQ(req.body, "hello world");
}

TEST(Retry, Http2ClientsStreamsAreRetriedWithTheirBodies) {
  ThreeHosts hosts("        retry: { on: [5xx] }\n");
  TestConfig cfg;
  cfg.hosts = {hosts.broken.address(), hosts.good1.address(), hosts.good2.address()};
  cfg.workers = 1;
  cfg.listener_extra = "    http2: { cleartext: true }\n";
  cfg.routes =
      "      - match: { path_prefix: / }\n        cluster: app\n"
      "        retry: { on: [5xx] }\n";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  TempDir dir;
  std::string out;
  ASSERT_EQ(runShell("printf 'h2 body' > " + dir.path() + "/body", &out), 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(proxy.port()) + "/h2";
  // Three streams on one connection: one goes to the broken host first.
  ASSERT_EQ(runShell("nghttp -H ':method: PUT' -d " + dir.path() + "/body " + url + "a " + url +
                         "b " + url + "c",
                     &out),
            0)
      << out;
  EXPECT_EQ(hosts.brokenRequests(), 1u) << out;
  for (const char* stream : {"a", "b", "c"})
    EXPECT_NE(out.find(std::string("PUT /h2") + stream + " 7 h2 body"), std::string::npos)
        << stream << "\n"
        << out;
  EXPECT_EQ(out.find("broken"), std::string::npos) << out;
}

TEST(Retry, ABodyLargerThanTheBufferIsNotRetried) {
  ThreeHosts hosts("        retry: { on: [5xx], buffer_body: 1KiB }\n");
  ASSERT_TRUE(hosts.proxy->ok()) << hosts.proxy->process().output();
  const std::string body(4096, 'x');
  int server_errors = 0;
  for (int i = 0; i < 3; ++i) {
    auto r =
        send(*hosts.proxy, "PUT /big HTTP/1.1\r\nHost: a\r\nContent-Length: 4096\r\n\r\n" + body);
    ASSERT_TRUE(r);
    server_errors += r->status == 500;
  }
  EXPECT_EQ(server_errors, 1);  // the one the broken host took
  EXPECT_EQ(hosts.brokenRequests(), 1u);
}

TEST(Retry, ResetsAndPerTryTimeoutsMoveToAnotherHost) {
  // One host closes every connection without a word, one never answers, one is fine.
  TestBackend closing([](const BackendRequest&, BackendConnection& conn) { conn.close(); });
  TestBackend silent([](const BackendRequest&, BackendConnection&) {});
  TestBackend good(answering(200, "good"));
  for (bool policy : {true, false}) {
    TestConfig cfg;
    cfg.hosts = {closing.address(), silent.address(), good.address()};
    cfg.workers = 1;
    cfg.routes = "      - match: { path_prefix: / }\n        cluster: app\n        timeout: 1s\n";
    if (policy) cfg.routes += "        retry: { on: [reset, timeout], per_try_timeout: 300ms }\n";
    ProxyProcess proxy(cfg.yaml());
    ASSERT_TRUE(proxy.ok()) << proxy.process().output();
    int ok = 0, failed = 0;
    for (int i = 0; i < 3; ++i) {
      auto r = httpGet(proxy.port(), "/r" + std::to_string(i));
      ASSERT_TRUE(r);
      (r->status == 200 ? ok : failed) += 1;
    }
    if (policy) {
      EXPECT_EQ(ok, 3);
    } else {
      EXPECT_EQ(failed, 2);  // 502 from the closing host, 504 from the silent one
    }
    if (policy) {
      auto log = proxy.waitAccessLog(3);
      std::set<std::string> errors;
      for (const std::string& line : log) errors.insert(jsonField(line, "error"));
      // The failed attempts are what each request's record says went wrong on the way.
      EXPECT_TRUE(errors.count("upstream_reset") || errors.count("upstream_timeout"))
          << testing::PrintToString(log);
    }
  }
}

TEST(Retry, TheBudgetStopsRetriesWhenEveryHostFails) {
  TestBackend a(answering(500, "a")), b(answering(500, "b")), c(answering(500, "c"));
  for (bool budget_open : {true, false}) {
    TestConfig cfg;
    cfg.hosts = {a.address(), b.address(), c.address()};
    cfg.workers = 1;
    cfg.cluster_extra = budget_open ? "" : "    retry_budget: { percent: 0, min_concurrency: 0 }\n";
    cfg.routes =
        "      - match: { path_prefix: / }\n        cluster: app\n        retry: { on: [5xx] }\n";
    ProxyProcess proxy(cfg.yaml());
    ASSERT_TRUE(proxy.ok()) << proxy.process().output();
    const size_t before = a.requestCount() + b.requestCount() + c.requestCount();
    for (int i = 0; i < 5; ++i) {
      auto r = httpGet(proxy.port(), "/x");
      ASSERT_TRUE(r);
      // No host left (or no budget): the last answer is the client's, the backend's own body.
      EXPECT_EQ(r->status, 500);
      EXPECT_NE(r->body.find("GET /x"), std::string::npos) << r->body;
    }
    const size_t sent = a.requestCount() + b.requestCount() + c.requestCount() - before;
    AdminClient admin(proxy.adminPort());
    auto stats = admin.get("/v1/stats?window=60s").body;
    const auto& route = stats["routes"]["public:/"];
    if (budget_open) {
      EXPECT_EQ(sent, 15u);  // 3 attempts each (max_attempts), every host once
      EXPECT_EQ(route["retries"], 10) << route.dump();
    } else {
      EXPECT_EQ(sent, 5u);
      EXPECT_EQ(route["retries"], 0) << route.dump();
      EXPECT_EQ(route["retries_refused"], 5) << route.dump();
    }
  }
}

}  // namespace
}  // namespace lb::test
