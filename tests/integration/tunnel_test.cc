// Upgrade tunnels on HTTP/1.1 (docs/tunnels.md). A raw backend that answers 101 and then
// speaks its own bytes, to check the proxy's side of each rule: what it forwards, half-close
// both ways, refused and malformed switches, backpressure both ways with bounded memory, the
// tunnel idle timeout, drain and its deadline, the metrics and the access log; then a real
// WebSocket client and server (Debian's python3-websockets) through lbproxy, over HTTP/1.1 and
// TLS, with a 1 MiB message, server push, silence longer than the request timeout and a reload
// during the session.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

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

constexpr uint64_t kMiB = uint64_t{1} << 20;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCheckRss = false;  // ASan's quarantine hides what the proxy buffers
#else
constexpr bool kCheckRss = true;
#endif

constexpr const char* kUpgradeRequest =
    "GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: x-raw\r\n\r\n";
constexpr const char* kSwitch =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x-raw\r\nConnection: Upgrade\r\n\r\n";

// A backend that switches to x-raw and then echoes with a prefix until the proxy half-closes,
// then says "bye" and closes.
BackendHandler rawEcho() {
  return [](const BackendRequest& req, BackendConnection& conn) {
    if (!req.header("Upgrade")) {
      conn.write(simpleResponse(200, "plain"));
      return;
    }
    conn.write(kSwitch);
    char buf[4096];
    for (;;) {
      pollfd p{conn.fd(), POLLIN, 0};
      if (::poll(&p, 1, 20000) <= 0) break;
      ssize_t r = ::recv(conn.fd(), buf, sizeof(buf), 0);
      if (r <= 0) break;
      conn.write("echo:" + std::string(buf, static_cast<size_t>(r)));
    }
    conn.write("bye");
    conn.close();
  };
}

TestConfig tunnelConfig(const TestBackend& backend, const std::string& route_extra = "") {
  TestConfig cfg;
  cfg.hosts = {backend.address()};
  cfg.routes = "      - match: { path_prefix: / }\n        cluster: app\n        timeout: 5s\n" +
               route_extra;
  return cfg;
}

std::optional<ClientResponse> openTunnel(TestClient& c) {
  if (!c.send(kUpgradeRequest)) return std::nullopt;
  return c.read();
}

double metric(const std::string& text, const std::string& series) {
  size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

TEST(Tunnel, ForwardsTheUpgradeRelaysBytesAndHalfClosesBothWays) {
  TestBackend backend(rawEcho());
  ProxyProcess proxy(tunnelConfig(backend, "        upgrades: [x-raw, websocket]\n").yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();

  TestClient c(proxy.port());
  auto resp = openTunnel(c);
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 101);
  ASSERT_TRUE(resp->header("Upgrade"));
  EXPECT_EQ(*resp->header("Upgrade"), "x-raw");
  ASSERT_TRUE(resp->header("Connection"));
  EXPECT_EQ(*resp->header("Connection"), "upgrade");
  EXPECT_TRUE(resp->header("X-Request-Id"));

  // The backend got the upgrade (and only the hop-by-hop fields an upgrade needs).
  ASSERT_EQ(backend.requestCount(), 1u);
  BackendRequest req = backend.requests()[0];
  ASSERT_TRUE(req.header("Upgrade"));
  EXPECT_EQ(*req.header("Upgrade"), "x-raw");
  ASSERT_TRUE(req.header("Connection"));
  EXPECT_EQ(*req.header("Connection"), "upgrade");

  ASSERT_TRUE(c.send("ping-1"));
  EXPECT_EQ(c.readBytes(11), "echo:ping-1");
  // Bytes that look like HTTP are only bytes in a tunnel.
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(c.readBytes(23), "echo:GET / HTTP/1.1\r\n\r\n");

  // The client closes its side: the backend sees EOF, answers, closes; the client reads it all.
  c.shutdownWrite();
  EXPECT_EQ(c.readUntilClose(10s), "bye");

  auto log = proxy.waitAccessLog(1);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(jsonField(log[0], "status"), "101");
  EXPECT_EQ(jsonField(log[0], "error"), "");
  // Up: the head and 24 tunnel bytes; down: the 101 head and 37 bytes.
  EXPECT_GT(std::stoul(jsonField(log[0], "bytes_in")), 24u);
  EXPECT_GT(std::stoul(jsonField(log[0], "bytes_out")), 37u);
}

TEST(Tunnel, ARouteWithoutUpgradesServesTheRequestAsAnOrdinaryOne) {
  TestBackend backend(rawEcho());
  ProxyProcess proxy(tunnelConfig(backend, "        upgrades: []\n").yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  TestClient c(proxy.port());
  auto resp = openTunnel(c);
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(resp->body, "plain");
  ASSERT_EQ(backend.requestCount(), 1u);
  EXPECT_FALSE(backend.requests()[0].header("Upgrade"));
  // A protocol the route does not list is dropped the same way (default: websocket only).
  TestBackend backend2(rawEcho());
  ProxyProcess proxy2(tunnelConfig(backend2).yaml());
  ASSERT_TRUE(proxy2.ok()) << proxy2.process().output();
  TestClient c2(proxy2.port());
  resp = openTunnel(c2);
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 200);
  // ...and the connection stays an HTTP/1.1 keep-alive one.
  ASSERT_TRUE(c2.send("GET /next HTTP/1.1\r\nHost: a\r\n\r\n"));
  resp = c2.read();
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 200);
}

TEST(Tunnel, ASwitchNobodyAskedForOrWithoutUpgradeIsA502) {
  TestBackend unasked([](const BackendRequest&, BackendConnection& conn) { conn.write(kSwitch); });
  TestBackend bare([](const BackendRequest&, BackendConnection& conn) {
    conn.write("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\nraw");
  });
  // Routes match in order: /bare goes to the backend that leaves Upgrade out.
  TestConfig cfg = tunnelConfig(unasked);
  cfg.routes =
      "      - match: { path_prefix: /bare }\n        cluster: bare\n"
      "        upgrades: [x-raw]\n" +
      cfg.routes + "        upgrades: [x-raw]\n";
  cfg.clusters_extra =
      "  - name: bare\n    hosts:\n      - { id: b1, address: \"" + bare.address() + "\" }\n";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();

  auto resp = httpGet(proxy.port(), "/plain", "a");  // no upgrade asked
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 502);

  TestClient c(proxy.port());
  ASSERT_TRUE(
      c.send("GET /bare HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: x-raw\r\n\r\n"));
  resp = c.read();
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 502);
  auto log = proxy.waitAccessLog(2);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(jsonField(log[0], "error"), "bad_response");
  EXPECT_EQ(jsonField(log[1], "error"), "bad_response");
}

TEST(Tunnel, ANon101AnswerIsAnOrdinaryResponse) {
  TestBackend backend([](const BackendRequest&, BackendConnection& conn) {
    conn.write(simpleResponse(426, "upgrade refused"));
  });
  ProxyProcess proxy(tunnelConfig(backend, "        upgrades: [x-raw]\n").yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  TestClient c(proxy.port());
  auto resp = openTunnel(c);
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 426);
  EXPECT_EQ(resp->body, "upgrade refused");
  ASSERT_TRUE(c.send("GET /again HTTP/1.1\r\nHost: a\r\n\r\n"));
  resp = c.read();
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 426);
}

// A backend that switches and then sends `size` pattern bytes as fast as it can.
TEST(Tunnel, FastBackendToSlowClientKeepsRssBounded) {
  const uint64_t size = 256 * kMiB;
  TestBackend backend([&](const BackendRequest& req, BackendConnection& conn) {
    if (!req.header("Upgrade")) {
      conn.write(simpleResponse(200, "w"));
      return;
    }
    conn.write(kSwitch);
    writePatternBody(conn, size);
    conn.close();
  });
  ProxyProcess proxy(tunnelConfig(backend, "        upgrades: [x-raw]\n").yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  for (int i = 0; i < 20; ++i) httpGet(proxy.port(), "/warm", "a");
  const long baseline = proxy.process().peakRssKiB();

  TestClient c(proxy.port());
  c.setReceiveBuffer(64 * 1024);
  auto resp = openTunnel(c);
  ASSERT_TRUE(resp);
  ASSERT_EQ(resp->status, 101);
  uint64_t seen = 0;
  bool pattern_ok = true;
  uint64_t next_pause = 32 * kMiB;
  for (;;) {
    std::string chunk = c.readBytes(1 << 20, 30s);
    if (chunk.empty()) break;
    for (size_t i = 0; i < chunk.size() && pattern_ok; i += 4093)
      pattern_ok = chunk[i] == patternByte(seen + i);
    seen += chunk.size();
    if (seen >= next_pause) {
      // A slow reader: stop reading while the backend keeps sending at full speed. This
      // waits for the proxy, outside the process, to fill its buffers.
      std::this_thread::sleep_for(300ms);
      next_pause += 64 * kMiB;
    }
  }
  EXPECT_EQ(seen, size);
  EXPECT_TRUE(pattern_ok);
  const long peak = proxy.process().peakRssKiB();
  std::printf("[ measure ] 256 MiB through a tunnel to a slow reader: peak RSS growth %ld KiB\n",
              peak - baseline);
  if (kCheckRss) {
    EXPECT_LT(peak - baseline, 16 * 1024);
  }
}

TEST(Tunnel, FastClientToSlowBackendKeepsRssBounded) {
  const uint64_t size = 256 * kMiB;
  std::atomic<uint64_t> received{0};
  std::atomic<bool> pattern_ok{true};
  TestBackend backend([&](const BackendRequest& req, BackendConnection& conn) {
    if (!req.header("Upgrade")) {
      conn.write(simpleResponse(200, "w"));
      return;
    }
    int small = 64 * 1024;
    setsockopt(conn.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    conn.write(kSwitch);
    uint64_t next_pause = 32 * kMiB;
    char buf[65536];
    for (;;) {
      pollfd p{conn.fd(), POLLIN, 0};
      if (::poll(&p, 1, 30000) <= 0) break;
      ssize_t r = ::recv(conn.fd(), buf, sizeof(buf), 0);
      if (r <= 0) break;
      const uint64_t at = received.load();
      for (ssize_t i = 0; i < r; i += 4093)
        if (buf[i] != patternByte(at + static_cast<uint64_t>(i))) pattern_ok = false;
      received += static_cast<uint64_t>(r);
      if (received >= next_pause) {
        std::this_thread::sleep_for(300ms);  // a slow backend
        next_pause += 64 * kMiB;
      }
    }
    conn.write("done");
    conn.close();
  });
  ProxyProcess proxy(tunnelConfig(backend, "        upgrades: [x-raw]\n").yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  for (int i = 0; i < 20; ++i) httpGet(proxy.port(), "/warm", "a");
  const long baseline = proxy.process().peakRssKiB();

  TestClient c(proxy.port());
  auto resp = openTunnel(c);
  ASSERT_TRUE(resp);
  ASSERT_EQ(resp->status, 101);
  std::string block(256 * 1024, '\0');
  for (uint64_t sent = 0; sent < size; sent += block.size()) {
    for (size_t i = 0; i < block.size(); ++i) block[i] = patternByte(sent + i);
    ASSERT_TRUE(c.send(block));
  }
  c.shutdownWrite();
  EXPECT_EQ(c.readUntilClose(60s), "done");
  EXPECT_EQ(received.load(), size);
  EXPECT_TRUE(pattern_ok.load());
  const long peak = proxy.process().peakRssKiB();
  std::printf("[ measure ] 256 MiB through a tunnel to a slow backend: peak RSS growth %ld KiB\n",
              peak - baseline);
  if (kCheckRss) {
    EXPECT_LT(peak - baseline, 16 * 1024);
  }
}

TEST(Tunnel, AnIdleTunnelClosesAfterItsOwnTimeoutNotTheRequestTimeout) {
  TestBackend backend(rawEcho());
  TestConfig cfg = tunnelConfig(backend);
  // The request timeout is far shorter than the tunnel's: the tunnel outlives it.
  cfg.routes =
      "      - match: { path_prefix: / }\n        cluster: app\n        timeout: 200ms\n"
      "        upgrades: [x-raw]\n        tunnel_idle_timeout: 1500ms\n";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  TestClient c(proxy.port());
  auto resp = openTunnel(c);
  ASSERT_TRUE(resp);
  ASSERT_EQ(resp->status, 101);
  const auto opened = std::chrono::steady_clock::now();
  // Activity resets the idle timer: bytes every 300 ms for a while, each echoed.
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(300ms);  // silence the proxy must sit through (outside us)
    ASSERT_TRUE(c.send("k"));
    ASSERT_EQ(c.readBytes(6), "echo:k");
  }
  // Then silence: the proxy closes the tunnel (the backend sees EOF and says bye first, or
  // the proxy closes both sides; either way the client sees the close).
  EXPECT_TRUE(c.waitClosed(10s));
  const auto lived = std::chrono::steady_clock::now() - opened;
  EXPECT_GE(lived, 1500ms);
  auto log = proxy.waitAccessLog(1);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(jsonField(log[0], "status"), "101");
  EXPECT_EQ(jsonField(log[0], "error"), "");
  EXPECT_GE(std::stod(jsonField(log[0], "total_time_ms")), 1500.0);
}

TEST(Tunnel, DrainCountsOpenTunnelsAndItsDeadlineClosesThem) {
  TestBackend backend(rawEcho());
  ProxyProcess proxy(tunnelConfig(backend, "        upgrades: [x-raw]\n").yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  AdminClient admin(proxy.adminPort());
  TestClient c(proxy.port());
  auto resp = openTunnel(c);
  ASSERT_TRUE(resp);
  ASSERT_EQ(resp->status, 101);

  std::string metrics = admin.call("GET", "/metrics").text;
  EXPECT_EQ(metric(metrics, "lbproxy_host_tunnels_active{cluster=\"app\",host=\"h1\"}"), 1)
      << metrics;
  AdminResponse stats = admin.call("GET", "/v1/stats");
  EXPECT_EQ(stats.body["clusters"]["app"]["h1"]["tunnels"]["active"], 1) << stats.text;

  AdminResponse drain =
      admin.call("PUT", "/v1/clusters/app/hosts/h1/state", R"({"state":"drain","deadline":"1s"})");
  ASSERT_EQ(drain.status, 200) << drain.text;
  AdminResponse host = admin.call("GET", "/v1/clusters/app/hosts/h1");
  EXPECT_EQ(host.body["drained"], false) << host.text;  // the open tunnel counts
  EXPECT_EQ(host.body["active_requests"], 1) << host.text;
  // The tunnel still carries bytes while the host drains.
  ASSERT_TRUE(c.send("x"));
  EXPECT_EQ(c.readBytes(6), "echo:x");
  // The deadline closes it; then the host is drained.
  EXPECT_TRUE(c.waitClosed(10s));
  EXPECT_TRUE(waitUntil(
      [&] { return admin.call("GET", "/v1/clusters/app/hosts/h1").body["drained"] == true; }, 10s));

  metrics = admin.call("GET", "/metrics").text;
  EXPECT_EQ(metric(metrics, "lbproxy_host_tunnels_active{cluster=\"app\",host=\"h1\"}"), 0);
  EXPECT_EQ(metric(metrics, "lbproxy_host_tunnels_total{cluster=\"app\",host=\"h1\"}"), 1);
  EXPECT_GT(metric(metrics,
                   "lbproxy_route_tunnel_bytes_total{cluster=\"app\",direction=\"up\","
                   "listener=\"public\",route=\"public:/\"}"),
            0)
      << metrics;
}

TEST(Tunnel, ShutdownClosesOpenTunnelsAfterShutdownTimeout) {
  TestBackend backend(rawEcho());
  TestConfig cfg = tunnelConfig(backend, "        upgrades: [x-raw]\n");
  cfg.shutdown_timeout = "1s";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  TestClient c(proxy.port());
  auto resp = openTunnel(c);
  ASSERT_TRUE(resp);
  ASSERT_EQ(resp->status, 101);
  const auto stop = std::chrono::steady_clock::now();
  proxy.process().signal(SIGTERM);
  // Still open during the shutdown grace period...
  ASSERT_TRUE(c.send("y"));
  EXPECT_EQ(c.readBytes(6), "echo:y");
  // ...closed at its end, and the proxy exits.
  EXPECT_TRUE(c.waitClosed(10s));
  EXPECT_GE(std::chrono::steady_clock::now() - stop, 900ms);
  auto code = proxy.process().waitExit(10s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0);
}

// The real WebSocket peers.
class WsServer {
 public:
  WsServer() {
    ok_ = child_.start({"/usr/bin/python3", peer(), "server"});
    auto line = ok_ ? child_.waitForLine("listening ", 20s) : std::nullopt;
    ok_ = line.has_value();
    if (ok_) port_ = std::stoi(line->substr(line->find("listening ") + 10));
  }
  bool ok() const { return ok_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  static std::string peer() { return std::string(LB_SOURCE_DIR) + "/tests/support/ws_peer.py"; }

 private:
  ChildProcess child_;
  bool ok_ = false;
  int port_ = 0;
};

nlohmann::json wsClient(const std::vector<std::string>& args) {
  std::string cmd = "/usr/bin/python3 " + WsServer::peer() + " client";
  for (const auto& a : args) cmd += " " + a;
  std::string out;
  runShell(cmd, &out);
  size_t brace = out.rfind("\n{");
  std::string json = out.substr(brace == std::string::npos ? 0 : brace + 1);
  try {
    return nlohmann::json::parse(json);
  } catch (const std::exception&) {
    return {{"ok", false}, {"error", "client printed: " + out}};
  }
}

void expectFullSession(const nlohmann::json& r) {
  EXPECT_EQ(r["ok"], true) << r.dump();
  EXPECT_EQ(r["pushed"], nlohmann::json({"push-1", "push-2", "push-3"})) << r.dump();
  EXPECT_EQ(r["echo"], "hello") << r.dump();
  EXPECT_EQ(r["big_ok"], true) << r.dump();
  EXPECT_EQ(r["after_idle"], "after-idle") << r.dump();
  EXPECT_EQ(r["reload_status"], 200) << r.dump();
  EXPECT_EQ(r["after_reload"], "after-reload") << r.dump();
}

TEST(WebSocket, RealClientAndServerThroughTheProxy) {
  WsServer server;
  ASSERT_TRUE(server.ok());
  TestConfig cfg;
  cfg.hosts = {server.address()};
  cfg.route_timeout = "300ms";  // the session idles longer than this: a tunnel has its own
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  const std::string admin = "http://127.0.0.1:" + std::to_string(proxy.adminPort());

  nlohmann::json r = wsClient({"ws://127.0.0.1:" + std::to_string(proxy.port()) + "/push", "--big",
                               std::to_string(kMiB), "--idle", "1", "--reload", admin});
  expectFullSession(r);

  // The tunnel survived the reload: one request in the log, a 101, more than 2 MiB carried.
  auto log = proxy.waitAccessLog(1);
  ASSERT_GE(log.size(), 1u);
  EXPECT_EQ(jsonField(log[0], "status"), "101");
  EXPECT_GT(std::stoull(jsonField(log[0], "bytes_in")), kMiB);
  EXPECT_GT(std::stoull(jsonField(log[0], "bytes_out")), kMiB);
}

TEST(WebSocket, OverTls) {
  TempDir dir;
  ASSERT_TRUE(makeCertificate(dir.path(), "a", {"a.test"}));
  WsServer server;
  ASSERT_TRUE(server.ok());
  TestConfig cfg;
  cfg.hosts = {server.address()};
  cfg.route_timeout = "300ms";
  cfg.listener_extra = "    tls:\n      certificates:\n        - { cert: " + dir.path() +
                       "/a.crt, key: " + dir.path() + "/a.key }\n";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  const std::string admin = "http://127.0.0.1:" + std::to_string(proxy.adminPort());
  nlohmann::json r = wsClient({"wss://127.0.0.1:" + std::to_string(proxy.port()) + "/push", "--ca",
                               dir.path() + "/a.crt", "--big", std::to_string(kMiB), "--idle", "1",
                               "--reload", admin});
  expectFullSession(r);
}

TEST(WebSocket, ARouteThatRefusesUpgradesFailsTheHandshake) {
  WsServer server;
  ASSERT_TRUE(server.ok());
  TestConfig cfg;
  cfg.hosts = {server.address()};
  cfg.routes = "      - match: { path_prefix: / }\n        cluster: app\n        upgrades: []\n";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  nlohmann::json r = wsClient({"ws://127.0.0.1:" + std::to_string(proxy.port()) + "/echo"});
  EXPECT_EQ(r["ok"], false) << r.dump();
  EXPECT_NE(r["status"], 101) << r.dump();
}

nlohmann::json wsH2Client(const std::vector<std::string>& args) {
  std::vector<std::string> all = args;
  all.insert(all.begin(), "h2client");
  std::string cmd = "/usr/bin/python3 " + WsServer::peer();
  for (const auto& a : all) cmd += " " + a;
  std::string out;
  runShell(cmd, &out);
  size_t brace = out.rfind("\n{");
  try {
    return nlohmann::json::parse(out.substr(brace == std::string::npos ? 0 : brace + 1));
  } catch (const std::exception&) {
    return {{"ok", false}, {"error", "client printed: " + out}};
  }
}

// RFC 8441: an HTTP/2 client's WebSocket is a CONNECT stream with :protocol; lbproxy asks the
// HTTP/1.1 backend with an upgrade and its own key, checks the answer, and tunnels DATA.
TEST(WebSocket, OverHttp2ExtendedConnectInCleartextAndTls) {
  TempDir dir;
  ASSERT_TRUE(makeCertificate(dir.path(), "a", {"a.test"}));
  WsServer server;
  ASSERT_TRUE(server.ok());
  TestConfig cfg;
  cfg.hosts = {server.address()};
  cfg.listener_extra = "    http2: { cleartext: true }\n";
  ProxyProcess h2c(cfg.yaml());
  ASSERT_TRUE(h2c.ok()) << h2c.process().output();
  nlohmann::json r = wsH2Client(
      {"http://127.0.0.1:" + std::to_string(h2c.port()) + "/push", "--big", std::to_string(kMiB)});
  EXPECT_EQ(r["ok"], true) << r.dump();
  EXPECT_EQ(r["settings_connect_protocol"], 1) << r.dump();
  EXPECT_EQ(r["status"], 200) << r.dump();
  EXPECT_EQ(r["pushed"], nlohmann::json({"push-1", "push-2", "push-3"})) << r.dump();
  EXPECT_EQ(r["echo"], "hello") << r.dump();
  EXPECT_EQ(r["big_ok"], true) << r.dump();
  auto log = h2c.waitAccessLog(1);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(jsonField(log[0], "protocol"), "h2");
  EXPECT_EQ(jsonField(log[0], "status"), "101");  // a tunnel, on both protocols
  EXPECT_GT(std::stoull(jsonField(log[0], "bytes_out")), kMiB);

  cfg.listener_extra = "    tls:\n      certificates:\n        - { cert: " + dir.path() +
                       "/a.crt, key: " + dir.path() + "/a.key }\n";
  ProxyProcess tls(cfg.yaml());
  ASSERT_TRUE(tls.ok()) << tls.process().output();
  r = wsH2Client({"https://127.0.0.1:" + std::to_string(tls.port()) + "/echo", "--ca",
                  dir.path() + "/a.crt", "--big", std::to_string(kMiB)});
  EXPECT_EQ(r["ok"], true) << r.dump();
  EXPECT_EQ(r["echo"], "hello") << r.dump();
  EXPECT_EQ(r["big_ok"], true) << r.dump();
}

TEST(WebSocket, Http2ClientAndABackendThatAnswersTheKeyWronglyIsA502) {
  TestBackend backend([](const BackendRequest& req, BackendConnection& conn) {
    if (!req.header("Sec-WebSocket-Key")) {
      conn.write(simpleResponse(400, "no key"));
      return;
    }
    conn.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: bm90IHRoZSByaWdodCBhbnN3ZXI=\r\n\r\n");
  });
  TestConfig cfg;
  cfg.hosts = {backend.address()};
  cfg.listener_extra = "    http2: { cleartext: true }\n";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  nlohmann::json r = wsH2Client({"http://127.0.0.1:" + std::to_string(proxy.port()) + "/echo"});
  EXPECT_EQ(r["ok"], false) << r.dump();
  EXPECT_EQ(r["status"], 502) << r.dump();
  // The backend was asked as an HTTP/1.1 client would ask it.
  ASSERT_EQ(backend.requestCount(), 1u);
  BackendRequest req = backend.requests()[0];
  EXPECT_EQ(req.method, "GET");
  ASSERT_TRUE(req.header("Upgrade"));
  EXPECT_EQ(*req.header("Upgrade"), "websocket");
  ASSERT_TRUE(req.header("Sec-WebSocket-Key"));
  EXPECT_EQ(req.header("Sec-WebSocket-Key")->size(), 24u);  // 16 bytes, base64
  ASSERT_TRUE(req.header("Sec-WebSocket-Version"));
}

}  // namespace
}  // namespace lb::test
