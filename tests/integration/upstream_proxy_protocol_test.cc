// PROXY protocol to backends (clusters[].send_proxy_protocol, docs/proxy-protocol.md): Debian's
// nginx is the backend, with `listen ... proxy_protocol` (its own parser, none of our code) and a
// body that says what the header told it: the client's address and port, the address and port
// the client connected to, nginx's connection number (one per upstream connection) and the
// X-Forwarded-For. v1 and v2, in the clear and ahead of TLS, pooled connections reused only by
// the client connection they speak for, a client address from a trusted balancer's own PROXY
// header passed on, and health checks that nginx takes.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>
#include <string>
#include <vector>

#include "tests/support/admin_client.h"
#include "tests/support/child_process.h"
#include "tests/support/configs.h"
#include "tests/support/proxy_process.h"
#include "tests/support/test_client.h"
#include "tests/support/test_util.h"

namespace lb::test {
namespace {

using namespace std::chrono_literals;

// A port the kernel just handed out and took back: free unless someone takes it meanwhile
// (nginx binds it a moment later).
int unusedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

bool accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

// nginx in one process (no master, no daemon) with two PROXY-protocol listeners: plain and TLS
// (a certificate for 127.0.0.1 from a test CA).
class NginxBackend {
 public:
  NginxBackend() {
    const std::string& d = dir_.path();
    if (!makeCa(d, "ca") ||
        !makeSignedCertificate(d, "backend", "ca", "backend.test", "DNS:backend.test,IP:127.0.0.1"))
      return;
    plain_ = unusedPort();
    tls_ = unusedPort();
    std::ostringstream conf;
    conf << "daemon off;\nmaster_process off;\nworker_processes 1;\n"
         << "error_log " << d << "/error.log info;\npid " << d << "/nginx.pid;\n"
         << "events { worker_connections 256; }\n"
         << "http {\n  access_log off;\n";
    for (const char* temp : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"})
      conf << "  " << temp << "_temp_path " << d << "/" << temp << ";\n";
    conf << "  server {\n"
         << "    listen 127.0.0.1:" << plain_ << " proxy_protocol;\n"
         << "    listen 127.0.0.1:" << tls_ << " ssl proxy_protocol;\n"
         << "    ssl_certificate " << d << "/backend.crt;\n"
         << "    ssl_certificate_key " << d << "/backend.key;\n"
         << "    keepalive_requests 1000;\n"
         << "    location / {\n      default_type text/plain;\n"
         << "      return 200 \"$proxy_protocol_addr $proxy_protocol_port "
            "$proxy_protocol_server_addr $proxy_protocol_server_port $connection "
            "$http_x_forwarded_for\\n\";\n"
         << "    }\n  }\n}\n";
    std::string out;
    if (runShell("cat > " + d + "/nginx.conf <<'EOF'\n" + conf.str() + "EOF\n", &out) != 0) return;
    if (!child_.start(
            {"/usr/sbin/nginx", "-p", d, "-e", d + "/error.log", "-c", d + "/nginx.conf"}))
      return;
    ok_ = waitUntil([&] { return accepts(plain_) && accepts(tls_); }, 10s);
  }
  bool ok() const { return ok_; }
  std::string plain() const { return "127.0.0.1:" + std::to_string(plain_); }
  std::string tls() const { return "127.0.0.1:" + std::to_string(tls_); }
  std::string caFile() const { return dir_.path() + "/ca.crt"; }
  std::string errors() {
    std::string out;
    runShell("cat " + dir_.path() + "/error.log", &out);
    return child_.output() + out;
  }

 private:
  TempDir dir_;
  ChildProcess child_;
  int plain_ = 0;
  int tls_ = 0;
  bool ok_ = false;
};

// What nginx said it learnt from the PROXY header (and the connection it came on).
struct Seen {
  std::string client, client_port, server, server_port, connection, forwarded_for;
};

Seen parseSeen(const std::string& body) {
  std::istringstream in(body);
  Seen s;
  in >> s.client >> s.client_port >> s.server >> s.server_port >> s.connection >> s.forwarded_for;
  return s;
}

// Requests on one client connection; each answer parsed.
class Client {
 public:
  explicit Client(const ProxyProcess& proxy) : c_(proxy.port()) {}
  std::optional<Seen> get(const std::string& path, std::string* raw = nullptr) {
    if (!c_.send("GET " + path + " HTTP/1.1\r\nHost: test.local\r\n\r\n")) return std::nullopt;
    auto r = c_.read();
    if (raw) *raw = r ? std::to_string(r->status) + " " + r->body : "(no response)";
    if (!r || r->status != 200) return std::nullopt;
    return parseSeen(r->body);
  }
  TestClient& raw() { return c_; }
  // This client's own port, as the proxy sees it.
  std::string port() const {
    sockaddr_in addr{};
    socklen_t len = sizeof(addr);
    getsockname(c_.fd(), reinterpret_cast<sockaddr*>(&addr), &len);
    return std::to_string(ntohs(addr.sin_port));
  }

 private:
  TestClient c_;
};

TestConfig proxyConfig(const std::string& host, const std::string& version) {
  TestConfig cfg;
  cfg.hosts = {host};
  cfg.workers = 1;  // one pool
  cfg.cluster_extra = "    send_proxy_protocol: " + version + "\n";
  return cfg;
}

TEST(UpstreamProxyProtocol, V1AndV2StateTheClientAndTheAddressItConnectedTo) {
  NginxBackend nginx;
  ASSERT_TRUE(nginx.ok()) << nginx.errors();
  for (const std::string version : {"v1", "v2"}) {
    ProxyProcess proxy(proxyConfig(nginx.plain(), version).yaml());
    ASSERT_TRUE(proxy.ok()) << proxy.process().output();
    Client client(proxy);
    std::string raw;
    auto seen = client.get("/a", &raw);
    ASSERT_TRUE(seen) << version << ": " << raw << "\n" << nginx.errors();
    EXPECT_EQ(seen->client, "127.0.0.1") << version;
    EXPECT_EQ(seen->client_port, client.port()) << version;
    EXPECT_EQ(seen->server, "127.0.0.1") << version;
    EXPECT_EQ(seen->server_port, std::to_string(proxy.port())) << version;
    EXPECT_EQ(seen->forwarded_for, "127.0.0.1") << version;
  }
}

TEST(UpstreamProxyProtocol, PooledConnectionsServeOnlyTheClientTheySpeakFor) {
  NginxBackend nginx;
  ASSERT_TRUE(nginx.ok()) << nginx.errors();
  ProxyProcess proxy(proxyConfig(nginx.plain(), "v2").yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();

  Client first(proxy), second(proxy);
  auto a1 = first.get("/a1");
  ASSERT_TRUE(a1) << nginx.errors();
  auto a2 = first.get("/a2");
  ASSERT_TRUE(a2);
  // The same client connection: its pooled upstream connection again.
  EXPECT_EQ(a2->connection, a1->connection);
  EXPECT_EQ(a2->client_port, first.port());

  // Another client while the first one's upstream connection sits idle in the pool: a
  // connection of its own, whose header names it.
  auto b1 = second.get("/b1");
  ASSERT_TRUE(b1);
  EXPECT_NE(b1->connection, a1->connection);
  EXPECT_EQ(b1->client_port, second.port());
  EXPECT_NE(b1->client_port, a1->client_port);

  // And the first client still gets its own.
  auto a3 = first.get("/a3");
  ASSERT_TRUE(a3);
  EXPECT_EQ(a3->connection, a1->connection);
  EXPECT_EQ(a3->client_port, first.port());
}

TEST(UpstreamProxyProtocol, Http2ClientsStreamsShareTheirConnectionsHeader) {
  NginxBackend nginx;
  ASSERT_TRUE(nginx.ok()) << nginx.errors();
  TestConfig cfg = proxyConfig(nginx.plain(), "v1");
  cfg.listener_extra = "    http2: { cleartext: true }\n";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  // Two streams on one HTTP/2 connection (nghttp sends them together; curl 7.88 cannot reuse
  // an h2c connection, with nginx neither).
  const std::string url = "http://127.0.0.1:" + std::to_string(proxy.port());
  std::string out;
  ASSERT_EQ(runShell("nghttp " + url + "/one " + url + "/two", &out), 0) << out;
  std::istringstream lines(out);
  std::string one, two;
  std::getline(lines, one);
  std::getline(lines, two);
  Seen a = parseSeen(one), b = parseSeen(two);
  EXPECT_EQ(a.client, "127.0.0.1") << out;
  EXPECT_EQ(a.server_port, std::to_string(proxy.port())) << out;
  EXPECT_FALSE(a.client_port.empty());
  // Both streams speak for the same client connection, whichever upstream connection each took.
  EXPECT_EQ(b.client_port, a.client_port) << out;
  EXPECT_EQ(b.client, "127.0.0.1") << out;
}

TEST(UpstreamProxyProtocol, SentInTheClearAheadOfTls) {
  NginxBackend nginx;
  ASSERT_TRUE(nginx.ok()) << nginx.errors();
  TestConfig cfg = proxyConfig(nginx.tls(), "v2");
  cfg.cluster_extra += "    tls: { ca_file: " + nginx.caFile() + " }\n";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  Client client(proxy);
  std::string raw;
  auto seen = client.get("/tls", &raw);
  ASSERT_TRUE(seen) << raw << "\n" << nginx.errors();
  EXPECT_EQ(seen->client_port, client.port());
  EXPECT_EQ(seen->server_port, std::to_string(proxy.port()));
  auto again = client.get("/tls-again");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->connection, seen->connection);  // kept alive over TLS
}

TEST(UpstreamProxyProtocol, TheAddressFromATrustedBalancerIsPassedOn) {
  NginxBackend nginx;
  ASSERT_TRUE(nginx.ok()) << nginx.errors();
  for (const std::string version : {"v1", "v2"}) {
    TestConfig cfg = proxyConfig(nginx.plain(), version);
    cfg.listener_extra = "    proxy_protocol: { trusted: [127.0.0.0/8] }\n";
    ProxyProcess proxy(cfg.yaml());
    ASSERT_TRUE(proxy.ok()) << proxy.process().output();
    // An L4 balancer in front: its header names the client 203.0.113.9:4711 and the address
    // it was reached on, 198.51.100.1:443; lbproxy states the same to the backend.
    TestClient c(proxy.port());
    ASSERT_TRUE(
        c.send("PROXY TCP4 203.0.113.9 198.51.100.1 4711 443\r\n"
               "GET /balanced HTTP/1.1\r\nHost: test.local\r\n\r\n"));
    auto r = c.read();
    ASSERT_TRUE(r && r->status == 200) << version << " " << (r ? r->body : "(none)") << "\n"
                                       << nginx.errors();
    Seen seen = parseSeen(r->body);
    EXPECT_EQ(seen.client, "203.0.113.9") << version;
    EXPECT_EQ(seen.client_port, "4711") << version;
    EXPECT_EQ(seen.server, "198.51.100.1") << version;
    EXPECT_EQ(seen.server_port, "443") << version;
    EXPECT_EQ(seen.forwarded_for, "203.0.113.9") << version;
  }
}

TEST(UpstreamProxyProtocol, HealthChecksSendALocalHeaderTheBackendTakes) {
  NginxBackend nginx;
  ASSERT_TRUE(nginx.ok()) << nginx.errors();
  for (const std::string version : {"v1", "v2", "off"}) {
    TestConfig cfg = proxyConfig(nginx.plain(), version);
    cfg.cluster_extra +=
        "    health_check: { path: /health, interval: 200ms, timeout: 200ms, "
        "healthy_threshold: 1, unhealthy_threshold: 1 }\n";
    ProxyProcess proxy(cfg.yaml());
    ASSERT_TRUE(proxy.ok()) << proxy.process().output();
    AdminClient admin(proxy.adminPort());
    // Without a header nginx refuses the connection: the control case, the check fails.
    const std::string want = version == "off" ? "unhealthy" : "healthy";
    ASSERT_TRUE(waitUntil(
        [&] {
          auto h = admin.host("app", "h1");
          return !h.is_null() && h["health"] == want && h["last_check"] != nullptr;
        },
        10s))
        << version << " " << admin.host("app", "h1").dump() << "\n"
        << nginx.errors();
    const auto last = admin.host("app", "h1")["last_check"];
    if (version == "off")
      EXPECT_NE(last, "pass") << admin.host("app", "h1").dump();
    else
      EXPECT_EQ(last, "pass") << version << " " << admin.host("app", "h1").dump();
  }
}

}  // namespace
}  // namespace lb::test
