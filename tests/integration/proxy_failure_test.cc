// Upstream failures on loopback: refused connects go to another host, timeouts give 504,
// bad or dying upstreams give 502, a stale pooled connection is retried once for idempotent
// requests, and nothing is retried once response bytes reached the client.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "tests/support/configs.h"
#include "tests/support/proxy_process.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_client.h"

namespace lb::test {
namespace {

using namespace std::chrono_literals;

BackendHandler ok(const std::string& name) {
  return [name](const BackendRequest& req, BackendConnection& conn) {
    conn.write(simpleResponse(200, name + " " + req.target));
  };
}

TEST(ProxyFailure, ConnectRefusedGoesToAnotherHost) {
  TestBackend live(ok("live"));
  TestConfig cfg;
  cfg.hosts = {"127.0.0.1:" + std::to_string(refusedPort()), live.address()};
  cfg.workers = 1;
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();

  for (int i = 0; i < 6; ++i) {
    // POST too: a refused connect never reached a backend, so any method may go elsewhere.
    TestClient c(proxy.port());
    c.send("POST /p" + std::to_string(i) + " HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi");
    auto resp = c.read();
    ASSERT_TRUE(resp) << i;
    EXPECT_EQ(resp->status, 200) << i;
    EXPECT_EQ(resp->body, "live /p" + std::to_string(i));
  }
  EXPECT_EQ(live.requestCount(), 6u);
  auto log = proxy.waitAccessLog(6);
  int retried = 0;
  for (const auto& line : log) retried += jsonField(line, "retries") == "1";
  EXPECT_EQ(retried, 3) << "round robin sent every other request to the dead host first";
}

// A loopback port whose accept queue is full: the kernel drops further SYNs, so a connect to
// it hangs until the caller's timeout, like an unreachable host.
class BlackholePort {
 public:
  BlackholePort() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(listen_fd_, 0);
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    for (int i = 0; i < 4; ++i) {  // fill the accept queue; nobody ever accepts
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
      fillers_.push_back(fd);
    }
    std::this_thread::sleep_for(100ms);
  }
  ~BlackholePort() {
    for (int fd : fillers_) ::close(fd);
    ::close(listen_fd_);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::vector<int> fillers_;
};

TEST(ProxyFailure, ConnectTimeoutGoesToAnotherHost) {
  BlackholePort hole;
  TestBackend live(ok("live"));
  TestConfig cfg;
  cfg.hosts = {hole.address(), live.address()};
  cfg.workers = 1;
  cfg.cluster_extra = "    connect_timeout: 200ms\n";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  for (int i = 0; i < 2; ++i) {
    auto resp = httpGet(proxy.port(), "/t" + std::to_string(i));
    ASSERT_TRUE(resp) << i;
    EXPECT_EQ(resp->status, 200) << i;
  }
  auto log = proxy.waitAccessLog(2);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(jsonField(log[0], "retries"), "1") << "the first pick was the black hole: " << log[0];
  EXPECT_EQ(jsonField(log[0], "upstream"), "h2");
}

TEST(ProxyFailure, ConnectTimeoutOnEveryHostGives502) {
  BlackholePort hole;
  TestConfig cfg;
  cfg.hosts = {hole.address()};
  cfg.cluster_extra = "    connect_timeout: 200ms\n    max_attempts: 1\n";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  auto resp = httpGet(proxy.port(), "/");
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 502);
  EXPECT_NE(resp->body.find("connect"), std::string::npos) << resp->body;
}

TEST(ProxyFailure, AllHostsRefusingGives502) {
  TestConfig cfg;
  cfg.hosts = {"127.0.0.1:" + std::to_string(refusedPort()),
               "127.0.0.1:" + std::to_string(refusedPort())};
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  auto resp = httpGet(proxy.port(), "/");
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 502);
  EXPECT_NE(resp->body.find("request-id"), std::string::npos);
}

TEST(ProxyFailure, UpstreamTimeoutGives504) {
  TestBackend silent([](const BackendRequest&, BackendConnection&) {
    std::this_thread::sleep_for(1500ms);  // answers far too late (the proxy gave up)
  });
  TestConfig cfg;
  cfg.hosts = {silent.address()};
  cfg.route_timeout = "300ms";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  auto resp = httpGet(proxy.port(), "/slow");
  ASSERT_TRUE(resp);
  // The backend would have answered 200 after 1.5 s: a 504 means the route timeout fired.
  EXPECT_EQ(resp->status, 504);
  EXPECT_EQ(silent.requestCount(), 1u) << "a timed-out request is not retried elsewhere";
}

TEST(ProxyFailure, UpstreamDyingBeforeResponseGives502ForPost) {
  TestBackend dying([](const BackendRequest&, BackendConnection& conn) { conn.close(); });
  TestConfig cfg;
  cfg.hosts = {dying.address()};
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  TestClient c(proxy.port());
  c.send("POST /orders HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi");
  auto resp = c.read();
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 502);
  EXPECT_EQ(dying.requestCount(), 1u) << "a POST that reached a backend is never retried";
}

TEST(ProxyFailure, UpstreamDyingMidBodyCutsTheClientConnection) {
  TestBackend dying([](const BackendRequest&, BackendConnection& conn) {
    conn.write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + std::string(5000, 'x'));
    std::this_thread::sleep_for(50ms);
    conn.close();
  });
  TestConfig cfg;
  cfg.hosts = {dying.address()};
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  TestClient c(proxy.port());
  c.send("GET /big HTTP/1.1\r\nHost: a\r\n\r\n");
  auto resp = c.read(false, 5s);
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 200) << "the head was already relayed";
  EXPECT_FALSE(resp->complete) << "the client must see the truncation, not a short body";
  EXPECT_EQ(resp->body.size(), 5000u);
  EXPECT_TRUE(c.waitClosed(3s));
  EXPECT_EQ(dying.requestCount(), 1u) << "never a retry once response bytes reached the client";
}

TEST(ProxyFailure, BadResponseFramingGives502AndTheConnectionIsNotReused) {
  TestBackend bad([](const BackendRequest& req, BackendConnection& conn) {
    if (req.target == "/bad")
      conn.write("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd");
    else
      conn.write(simpleResponse(200, "fine"));
  });
  TestConfig cfg;
  cfg.hosts = {bad.address()};
  cfg.workers = 1;
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  auto first = httpGet(proxy.port(), "/bad");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 502);
  auto second = httpGet(proxy.port(), "/good");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 200);
  EXPECT_EQ(second->body, "fine");
  auto reqs = bad.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_NE(reqs[0].connection, reqs[1].connection) << "a connection with bad framing is dropped";
}

TEST(ProxyFailure, StalePooledConnectionIsRetriedOnceForIdempotentRequests) {
  // Each backend connection answers its first request, then closes on reading the second
  // without a byte of response: the race of a backend keep-alive timeout with a reused
  // connection. Idempotent requests are retried once on a fresh connection; a POST is not.
  TestBackend racy([](const BackendRequest& req, BackendConnection& conn) {
    if (req.index_on_connection >= 2) {
      conn.close();
      return;
    }
    conn.write(simpleResponse(200, req.method + " " + req.target));
  });
  TestConfig cfg;
  cfg.hosts = {racy.address()};
  cfg.workers = 1;
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();

  TestClient c(proxy.port());
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(c.send("GET /g" + std::to_string(i) + " HTTP/1.1\r\nHost: a\r\n\r\n"));
    auto resp = c.read();
    ASSERT_TRUE(resp) << i;
    EXPECT_EQ(resp->status, 200) << i;
    EXPECT_EQ(resp->body, "GET /g" + std::to_string(i));
  }
  // 4 answered requests + 3 that died on a reused connection.
  EXPECT_EQ(racy.requestCount(), 7u);

  ASSERT_TRUE(c.send("POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx"));
  auto post = c.read();
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 502) << "a POST that may have reached the backend is not retried";
  EXPECT_EQ(racy.requestCount(), 8u);
}

}  // namespace
}  // namespace lb::test
