// lbproxy as a real process between real sockets on loopback: forwarding, keep-alive,
// pipelining, chunked bodies both ways, routing, framing of HEAD/204/304, 100-continue,
// and the client-fault answers (400/408/413/414/431) that never reach a backend.
#include <gtest/gtest.h>

#include <algorithm>
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

// Answers "<backend name> <method> <target>" with Content-Length.
BackendHandler echo(const std::string& name) {
  return [name](const BackendRequest& req, BackendConnection& conn) {
    conn.write(simpleResponse(200, name + " " + req.method + " " + req.target,
                              "X-Backend: " + name + "\r\n"));
  };
}

TEST(ProxyHttp, ForwardsWithRebuiltHeadAndForwardingHeaders) {
  TestBackend backend(echo("b1"));
  TestConfig cfg;
  cfg.hosts = {backend.address()};
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();

  TestClient c(proxy.port());
  ASSERT_TRUE(c.send(
      "GET /api/products?x=1 HTTP/1.1\r\nHost: shop.example.com\r\n"
      "Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=9\r\nTE: trailers\r\n"
      "Proxy-Connection: keep-alive\r\nUpgrade: h2c\r\n"
      "X-Forwarded-For: 203.0.113.9\r\n"
      "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n"));
  auto resp = c.read();
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(resp->body, "b1 GET /api/products?x=1");
  ASSERT_NE(resp->header("X-Request-Id"), nullptr) << "the client sees the request id";

  auto got = backend.requests();
  ASSERT_EQ(got.size(), 1u);
  const BackendRequest& r = got[0];
  EXPECT_EQ(r.version, "HTTP/1.1");
  EXPECT_EQ(*r.header("Host"), "shop.example.com");
  EXPECT_EQ(*r.header("X-Forwarded-For"), "203.0.113.9, 127.0.0.1");
  EXPECT_EQ(*r.header("X-Forwarded-Proto"), "http");
  EXPECT_EQ(*r.header("X-Forwarded-Host"), "shop.example.com");
  EXPECT_EQ(*r.header("traceparent"), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ASSERT_NE(r.header("X-Request-Id"), nullptr);
  EXPECT_EQ(*r.header("X-Request-Id"), *resp->header("X-Request-Id"));
  EXPECT_EQ(r.header("X-Request-Id")->size(), 32u);
  for (const char* hop : {"X-Hop", "Keep-Alive", "TE", "Proxy-Connection", "Upgrade", "Connection"})
    EXPECT_EQ(r.header(hop), nullptr) << hop << " must not be forwarded";

  // A valid incoming X-Request-Id is kept.
  auto kept = httpGet(proxy.port(), "/", "a", "X-Request-Id: abc-123\r\n");
  ASSERT_TRUE(kept);
  EXPECT_EQ(*kept->header("X-Request-Id"), "abc-123");
  EXPECT_EQ(*backend.requests().back().header("X-Request-Id"), "abc-123");

  // Each worker flushes its own log buffer, so lines of two connections may come in any order.
  auto log = proxy.waitAccessLog(2);
  ASSERT_GE(log.size(), 2u);
  auto first = std::find_if(log.begin(), log.end(), [&](const std::string& line) {
    return jsonField(line, "request_id") == *resp->header("X-Request-Id");
  });
  ASSERT_NE(first, log.end()) << testing::PrintToString(log);
  EXPECT_EQ(jsonField(*first, "status"), "200");
  EXPECT_EQ(jsonField(*first, "path"), "/api/products?x=1");
  EXPECT_EQ(jsonField(*first, "upstream"), "h1");
  EXPECT_EQ(jsonField(*first, "trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST(ProxyHttp, KeepAliveOnBothSides) {
  TestBackend backend(echo("b1"));
  TestConfig cfg;
  cfg.hosts = {backend.address()};
  cfg.workers = 1;
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();

  TestClient c(proxy.port());
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(c.send("GET /" + std::to_string(i) + " HTTP/1.1\r\nHost: a\r\n\r\n"));
    auto resp = c.read();
    ASSERT_TRUE(resp) << i;
    EXPECT_EQ(resp->body, "b1 GET /" + std::to_string(i));
    EXPECT_EQ(resp->header("Connection"), nullptr);
  }
  // Sequential requests reuse one pooled upstream connection.
  EXPECT_EQ(backend.connections(), 1);
  auto reqs = backend.requests();
  EXPECT_EQ(reqs.back().index_on_connection, 20);
}

TEST(ProxyHttp, IdleUpstreamConnectionsAreClosedAfterTheirIdleTimeout) {
  TestBackend backend(echo("b1"));
  TestConfig cfg;
  cfg.hosts = {backend.address()};
  cfg.workers = 1;
  cfg.cluster_extra = "    idle_timeout: 200ms\n";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  ASSERT_TRUE(httpGet(proxy.port(), "/"));
  EXPECT_EQ(backend.openConnections(), 1u) << "pooled after the response";
  EXPECT_TRUE(waitUntil([&] { return backend.openConnections() == 0; }, 3s))
      << "the proxy closes its idle upstream connection before the backend does";
  auto again = httpGet(proxy.port(), "/");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(backend.connections(), 2);
}

TEST(ProxyHttp, PipelinedResponsesStayInOrder) {
  // The first request is the slowest: a proxy that answered out of order would show it.
  TestBackend backend([](const BackendRequest& req, BackendConnection& conn) {
    if (req.target == "/slow") std::this_thread::sleep_for(200ms);
    conn.write(simpleResponse(200, req.target));
  });
  TestConfig cfg;
  cfg.hosts = {backend.address()};
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();

  TestClient c(proxy.port());
  ASSERT_TRUE(
      c.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n"
             "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz"
             "GET /c HTTP/1.1\r\nHost: a\r\n\r\n"
             "GET /d HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
  for (const char* expected : {"/slow", "/b", "/c", "/d"}) {
    auto resp = c.read();
    ASSERT_TRUE(resp) << expected;
    EXPECT_EQ(resp->body, expected);
  }
  EXPECT_TRUE(c.waitClosed(5s)) << "Connection: close ends the connection";
  EXPECT_EQ(backend.requests()[1].body, "xyz");
}

TEST(ProxyHttp, ChunkedRequestIsDechunkedAndRechunked) {
  TestBackend backend([](const BackendRequest& req, BackendConnection& conn) {
    conn.write(simpleResponse(200, std::to_string(req.body_bytes) + ":" + req.body));
  });
  TestConfig cfg;
  cfg.hosts = {backend.address()};
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();

  TestClient c(proxy.port());
  ASSERT_TRUE(
      c.send("POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
             "5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: dropped\r\n\r\n"));
  auto resp = c.read();
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->body, "11:hello world");
  auto got = backend.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].chunked);
  EXPECT_EQ(got[0].raw_head.find("ext=1"), std::string::npos);
  // Chunk extensions and trailers are not relayed: the proxy re-frames what it forwards.
  EXPECT_EQ(backend.rawBytes().find("ext=1"), std::string::npos);
  EXPECT_EQ(backend.rawBytes().find("X-Trailer"), std::string::npos);
}

TEST(ProxyHttp, ChunkedAndUnframedResponsesAreRechunked) {
  TestBackend backend([](const BackendRequest& req, BackendConnection& conn) {
    if (req.target == "/chunked") {
      conn.write(
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
          "3;x=y\r\nabc\r\n4\r\ndefg\r\n0\r\nTrailer-X: 1\r\n\r\n");
    } else {
      // No framing: the body ends when the backend closes.
      conn.write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close body");
      conn.close();
    }
  });
  TestConfig cfg;
  cfg.hosts = {backend.address()};
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();

  TestClient c(proxy.port());
  ASSERT_TRUE(c.send("GET /chunked HTTP/1.1\r\nHost: a\r\n\r\n"));
  auto chunked = c.read();
  ASSERT_TRUE(chunked);
  EXPECT_TRUE(chunked->chunked);
  EXPECT_TRUE(chunked->complete);
  EXPECT_EQ(chunked->body, "abcdefg");

  ASSERT_TRUE(c.send("GET /close HTTP/1.1\r\nHost: a\r\n\r\n"));
  auto until_close = c.read();
  ASSERT_TRUE(until_close);
  EXPECT_TRUE(until_close->chunked)
      << "an HTTP/1.1 client gets it re-chunked, keeping its connection";
  EXPECT_TRUE(until_close->complete);
  EXPECT_EQ(until_close->body, "until close body");

  ASSERT_TRUE(c.send("GET /chunked HTTP/1.1\r\nHost: a\r\n\r\n"));
  auto again = c.read();
  ASSERT_TRUE(again) << "the client connection survived";
  EXPECT_EQ(again->body, "abcdefg");
}

TEST(ProxyHttp, HeadNoContentAndNotModifiedAreFramedRight) {
  TestBackend backend([](const BackendRequest& req, BackendConnection& conn) {
    if (req.target == "/204")
      conn.write("HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n");
    else if (req.target == "/304")
      conn.write("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n");
    else
      conn.write("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n" +
                 std::string(req.method == "HEAD" ? 0 : 1234, 'x'));
  });
  TestConfig cfg;
  cfg.hosts = {backend.address()};
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();

  TestClient c(proxy.port());
  ASSERT_TRUE(c.send("HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n"));
  auto head = c.read(/*request_was_head=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  ASSERT_NE(head->header("Content-Length"), nullptr);
  EXPECT_EQ(*head->header("Content-Length"), "1234") << "HEAD keeps the representation's length";

  ASSERT_TRUE(c.send("GET /204 HTTP/1.1\r\nHost: a\r\n\r\n"));
  auto nc = c.read();
  ASSERT_TRUE(nc);
  EXPECT_EQ(nc->status, 204);
  EXPECT_EQ(nc->header("Content-Length"), nullptr);
  EXPECT_EQ(nc->header("Transfer-Encoding"), nullptr);

  ASSERT_TRUE(c.send("GET /304 HTTP/1.1\r\nHost: a\r\n\r\n"));
  auto nm = c.read();
  ASSERT_TRUE(nm);
  EXPECT_EQ(nm->status, 304);
  EXPECT_EQ(nm->header("Transfer-Encoding"), nullptr);

  // If any of those had been framed wrong, this response would be misread.
  ASSERT_TRUE(c.send("GET /full HTTP/1.1\r\nHost: a\r\n\r\n"));
  auto full = c.read();
  ASSERT_TRUE(full);
  EXPECT_EQ(full->body.size(), 1234u);
}

TEST(ProxyHttp, ExpectContinue) {
  TestBackend backend([](const BackendRequest& req, BackendConnection& conn) {
    conn.write(simpleResponse(201, req.body));
  });
  TestConfig cfg;
  cfg.hosts = {backend.address()};
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();

  TestClient c(proxy.port());
  ASSERT_TRUE(
      c.send("PUT /doc HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"));
  auto interim = c.read(false, 5s);
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(c.send("data"));
  auto final_resp = c.read();
  ASSERT_TRUE(final_resp);
  EXPECT_EQ(final_resp->status, 201);
  EXPECT_EQ(final_resp->body, "data");
  EXPECT_EQ(backend.requests()[0].header("Expect"), nullptr);
}

TEST(ProxyHttp, RoutesByHostAndPathFirstMatchWins) {
  TestBackend api(echo("api")), shop(echo("shop")), wild(echo("wild")), other(echo("other"));
  TestConfig cfg;
  cfg.hosts = {other.address()};
  cfg.routes =
      "      - match: { host: shop.example.com, path_prefix: /api/ }\n        cluster: api\n"
      "      - match: { host: shop.example.com }\n        cluster: shop\n"
      "      - match: { host: \"*.example.com\" }\n        cluster: wild\n"
      "      - match: { path_prefix: /other/ }\n        cluster: app\n";
  cfg.clusters_extra =
      "  - name: api\n    hosts: [{ id: api-1, address: \"" + api.address() +
      "\" }]\n  - name: shop\n    hosts: [{ id: shop-1, address: \"" + shop.address() +
      "\" }]\n  - name: wild\n    hosts: [{ id: wild-1, address: \"" + wild.address() + "\" }]\n";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();

  auto backendFor = [&](const std::string& request) -> std::string {
    TestClient c(proxy.port());
    c.send(request);
    auto resp = c.read();
    if (!resp) return "no response";
    if (resp->status != 200) return std::to_string(resp->status);
    return *resp->header("X-Backend");
  };
  EXPECT_EQ(backendFor("GET /api/x HTTP/1.1\r\nHost: shop.example.com\r\n\r\n"), "api");
  EXPECT_EQ(backendFor("GET /api/x HTTP/1.1\r\nHost: SHOP.example.com:8080\r\n\r\n"), "api");
  EXPECT_EQ(backendFor("GET /cart HTTP/1.1\r\nHost: shop.example.com\r\n\r\n"), "shop");
  EXPECT_EQ(backendFor("GET /api/x HTTP/1.1\r\nHost: img.example.com\r\n\r\n"), "wild");
  EXPECT_EQ(backendFor("GET /other/1 HTTP/1.1\r\nHost: unknown.test\r\n\r\n"), "other");
  EXPECT_EQ(backendFor("GET /nothing HTTP/1.1\r\nHost: unknown.test\r\n\r\n"), "404");
  // An absolute-form target's authority wins over the Host field (RFC 9112 3.2.2).
  EXPECT_EQ(backendFor("GET http://shop.example.com/api/y HTTP/1.1\r\nHost: unknown.test\r\n\r\n"),
            "api");
  EXPECT_EQ(*api.requests().back().header("Host"), "shop.example.com");
  EXPECT_EQ(api.requests().back().target, "/api/y");
}

TEST(ProxyHttp, RingHashKeepsACookieOnOneBackend) {
  TestBackend b1(echo("b1")), b2(echo("b2")), b3(echo("b3"));
  TestConfig cfg;
  cfg.hosts = {b1.address(), b2.address(), b3.address()};
  cfg.balancer = "ring_hash";
  cfg.cluster_extra = "    hash_on: { cookie: session }\n";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  std::set<std::string> used;
  for (int user = 0; user < 12; ++user) {
    std::string cookie = "Cookie: theme=dark; session=user-" + std::to_string(user) + "\r\n";
    std::set<std::string> seen;
    for (int i = 0; i < 4; ++i) {  // new connections, so both workers take part
      auto resp = httpGet(proxy.port(), "/cart", "a", cookie);
      ASSERT_TRUE(resp);
      seen.insert(*resp->header("X-Backend"));
    }
    EXPECT_EQ(seen.size(), 1u) << "user " << user << " moved between backends";
    used.insert(seen.begin(), seen.end());
  }
  EXPECT_GE(used.size(), 2u) << "12 sessions should not all land on one of three backends";
}

TEST(ProxyHttp, MalformedRequestsGet400AndCloseAndNeverReachTheBackend) {
  TestBackend backend(echo("b1"));
  TestConfig cfg;
  cfg.hosts = {backend.address()};
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();

  for (std::string bad : {
           std::string("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: "
                       "chunked\r\n\r\n0\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n folded\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nHost: a\r\nX: \rTransfer-Encoding: chunked\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\n\r\n"),
           std::string(
               "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nAXX0\r\n\r\n"),
       }) {
    TestClient c(proxy.port());
    ASSERT_TRUE(c.send(bad));
    auto resp = c.read();
    ASSERT_TRUE(resp) << testing::PrintToString(bad);
    EXPECT_EQ(resp->status, 400) << testing::PrintToString(bad);
    EXPECT_EQ(*resp->header("Connection"), "close");
    EXPECT_TRUE(c.waitClosed(5s)) << testing::PrintToString(bad);
  }
  // The bad chunked body came after a valid head: the backend may have seen the head, but
  // no request with a bad head was forwarded.
  for (const auto& r : backend.requests()) EXPECT_EQ(r.method, "POST");
}

TEST(ProxyHttp, LimitsAnswer413_414_431) {
  TestBackend backend(echo("b1"));
  TestConfig cfg;
  cfg.hosts = {backend.address()};
  cfg.listener_extra =
      "    max_request_line: 128\n    max_header_bytes: 1KiB\n    max_headers: 10\n"
      "    max_body_bytes: 100\n";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();

  auto statusOf = [&](const std::string& request) {
    TestClient c(proxy.port());
    c.send(request);
    auto resp = c.read();
    return resp ? resp->status : 0;
  };
  EXPECT_EQ(statusOf("GET /" + std::string(200, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n"), 414);
  EXPECT_EQ(statusOf("GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(2000, 'v') + "\r\n\r\n"),
            431);
  std::string many = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 12; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(statusOf(many + "\r\n"), 431);
  EXPECT_EQ(statusOf("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n"), 413);
  EXPECT_EQ(statusOf("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "c8\r\n" +
                     std::string(200, 'x') + "\r\n0\r\n\r\n"),
            413);
  EXPECT_EQ(
      statusOf("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'x')),
      200);
}

TEST(ProxyHttp, SlowlorisGets408FromATotalHeadDeadline) {
  TestBackend backend(echo("b1"));
  TestConfig cfg;
  cfg.hosts = {backend.address()};
  cfg.listener_extra = "    request_headers_timeout: 400ms\n";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();

  TestClient c(proxy.port());
  auto start = std::chrono::steady_clock::now();
  // One byte every 100ms keeps a per-byte timer alive forever; the deadline is for the head.
  std::string head = "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
  for (char ch : head) {
    if (!c.send(std::string(1, ch))) break;
    std::this_thread::sleep_for(100ms);
    if (std::chrono::steady_clock::now() - start > 3s) break;
  }
  auto resp = c.read(false, 3s);
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 408);
  EXPECT_TRUE(c.waitClosed(3s));
  EXPECT_EQ(backend.requestCount(), 0u);
}

TEST(ProxyHttp, IdleKeepAliveConnectionIsClosed) {
  TestBackend backend(echo("b1"));
  TestConfig cfg;
  cfg.hosts = {backend.address()};
  cfg.listener_extra = "    idle_timeout: 300ms\n";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  TestClient c(proxy.port());
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  ASSERT_TRUE(c.read());
  EXPECT_TRUE(c.waitClosed(3s)) << "closed after the keep-alive idle timeout";
}

TEST(ProxyHttp, Http10ClientGetsItsOwnFraming) {
  TestBackend backend([](const BackendRequest&, BackendConnection& conn) {
    conn.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  });
  TestConfig cfg;
  cfg.hosts = {backend.address()};
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  TestClient c(proxy.port());
  ASSERT_TRUE(c.send("GET / HTTP/1.0\r\n\r\n"));
  std::string raw = c.readUntilClose(5s);
  EXPECT_EQ(raw.find("Transfer-Encoding"), std::string::npos) << "HTTP/1.0 has no chunked coding\n"
                                                              << raw;
  EXPECT_EQ(raw.substr(raw.size() - 5), "hello");
}

}  // namespace
}  // namespace lb::test
