// The PROXY protocol on listeners (docs/proxy-protocol.md): v1 and v2 headers from a test
// client become the client address everywhere (X-Forwarded-For, the access log), also in front
// of TLS; a missing, malformed, late or untrusted header closes the connection, reaches no
// backend and is counted.
#include <gtest/gtest.h>

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

const std::string kV2Sig("\r\n\r\n\0\r\nQUIT\n", 12);

std::string v2Header(uint8_t ver_cmd, uint8_t family, const std::string& body) {
  std::string h = kV2Sig;
  h.push_back(static_cast<char>(ver_cmd));
  h.push_back(static_cast<char>(family));
  h.push_back(static_cast<char>(body.size() >> 8));
  h.push_back(static_cast<char>(body.size() & 0xff));
  return h + body;
}

// PROXY, TCP over IPv6, from 2001:db8::9 port 4660 to ::1 port 80.
std::string v2Ipv6() {
  std::string body(36, '\0');
  body[0] = 0x20, body[1] = 0x01, body[2] = 0x0d, body[3] = static_cast<char>(0xb8);
  body[15] = 9;
  body[31] = 1;
  body[32] = 0x12, body[33] = 0x34, body[35] = 80;
  return v2Header(0x21, 0x21, body);
}

double metric(const std::string& text, const std::string& series) {
  size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

struct PpProxy {
  TempDir certs;
  TestBackend backend{answers("ok")};
  std::unique_ptr<ProxyProcess> proxy;
  PpProxy() {
    EXPECT_TRUE(makeCertificate(certs.path(), "a", {"a.test"}));
    TestConfig cfg;
    cfg.hosts = {backend.address()};
    cfg.listener_extra =
        "    proxy_protocol: { trusted: [127.0.0.0/8, \"::1\"], timeout: 500ms }\n";
    std::string yaml = cfg.yaml();
    const std::string route =
        "    routes:\n      - match: { path_prefix: / }\n        cluster: app\n";
    // The same behind TLS, and one that trusts only a network the tests are not in.
    std::string more =
        "  - name: tls\n    listen: 127.0.0.1:0\n"
        "    proxy_protocol: { trusted: [127.0.0.0/8] }\n"
        "    tls: { certificates: [{ cert: " +
        certs.path() + "/a.crt, key: " + certs.path() + "/a.key }] }\n" + route +
        "  - name: strict\n    listen: 127.0.0.1:0\n"
        "    proxy_protocol: { trusted: [10.0.0.0/8] }\n" +
        route;
    yaml.insert(yaml.find("clusters:"), more);
    proxy = std::make_unique<ProxyProcess>(yaml);
  }
  // The X-Forwarded-For the backend saw on its last request.
  std::string lastForwardedFor() {
    auto reqs = backend.requests();
    if (reqs.empty()) return "";
    const std::string* xff = reqs.back().header("X-Forwarded-For");
    return xff ? *xff : "(none)";
  }
};

std::optional<ClientResponse> get(TestClient& c) {
  if (!c.send("GET /pp HTTP/1.1\r\nHost: a\r\n\r\n")) return std::nullopt;
  return c.read();
}

TEST(ProxyProtocol, V1AndV2AddressesBecomeTheClientAddress) {
  PpProxy pp;
  ASSERT_TRUE(pp.proxy->ok()) << pp.proxy->process().output();

  TestClient v1(pp.proxy->port());
  ASSERT_TRUE(v1.send("PROXY TCP4 203.0.113.9 127.0.0.1 5555 80\r\n"));
  auto resp = get(v1);
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(pp.lastForwardedFor(), "203.0.113.9");
  // The connection stays the client's: its next request too.
  resp = get(v1);
  ASSERT_TRUE(resp);
  EXPECT_EQ(pp.lastForwardedFor(), "203.0.113.9");

  TestClient v2(pp.proxy->port());
  ASSERT_TRUE(v2.send(v2Ipv6()));
  resp = get(v2);
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(pp.lastForwardedFor(), "2001:db8::9");

  // LOCAL (the balancer's own health check): the connection's address stands.
  TestClient local(pp.proxy->port());
  ASSERT_TRUE(local.send(v2Header(0x20, 0x00, "")));
  resp = get(local);
  ASSERT_TRUE(resp);
  EXPECT_EQ(pp.lastForwardedFor(), "127.0.0.1");

  // A header that arrives in two pieces is waited for.
  TestClient split(pp.proxy->port());
  ASSERT_TRUE(split.send("PROXY TCP4 198.51.1"));
  EXPECT_FALSE(split.waitClosed(200ms));  // still open: the header is not complete
  ASSERT_TRUE(split.send("00.4 127.0.0.1 1 80\r\n"));
  resp = get(split);
  ASSERT_TRUE(resp);
  EXPECT_EQ(pp.lastForwardedFor(), "198.51.100.4");

  // In front of TLS: the header first, in the clear, then the handshake.
  TestClient tls(pp.proxy->port("tls"));
  ASSERT_TRUE(tls.send(v2Ipv6()));
  ASSERT_TRUE(tls.startTls("a.test"));
  resp = get(tls);
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(pp.lastForwardedFor(), "2001:db8::9");

  // The access log says the same (two workers flush their lines independently: no order).
  auto log = pp.proxy->waitAccessLog(6);
  ASSERT_EQ(log.size(), 6u);
  std::multiset<std::string> clients;
  std::string tls_client;
  for (const std::string& line : log) {
    clients.insert(jsonField(line, "client"));
    if (jsonField(line, "tls") == "TLSv1.3") tls_client = jsonField(line, "client");
  }
  EXPECT_EQ(clients.count("203.0.113.9"), 2u);
  EXPECT_EQ(clients.count("2001:db8::9"), 2u);
  EXPECT_EQ(clients.count("127.0.0.1"), 1u);
  EXPECT_EQ(clients.count("198.51.100.4"), 1u);
  EXPECT_EQ(tls_client, "2001:db8::9");
}

TEST(ProxyProtocol, MissingMalformedLateAndUntrustedHeadersAreRefusedAndCounted) {
  PpProxy pp;
  ASSERT_TRUE(pp.proxy->ok()) << pp.proxy->process().output();

  TestClient missing(pp.proxy->port());  // an HTTP request where the header should be
  ASSERT_TRUE(missing.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  EXPECT_EQ(missing.readUntilClose(5s), "");

  TestClient malformed(pp.proxy->port());
  ASSERT_TRUE(malformed.send("PROXY TCP4 203.0.113 127.0.0.1 1 80\r\nGET / HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(malformed.readUntilClose(5s), "");

  TestClient late(pp.proxy->port());  // nothing within proxy_protocol.timeout (500 ms)
  EXPECT_TRUE(late.waitClosed(5s));

  // A peer outside `trusted` may not say who the client is: refused before it is read.
  TestClient forged(pp.proxy->port("strict"));
  ASSERT_TRUE(
      forged.send("PROXY TCP4 203.0.113.9 127.0.0.1 5555 80\r\nGET / HTTP/1.1\r\n"
                  "Host: a\r\n\r\n"));
  EXPECT_EQ(forged.readUntilClose(5s), "");

  EXPECT_EQ(pp.backend.requestCount(), 0u);
  AdminClient admin(pp.proxy->adminPort());
  std::string m = admin.call("GET", "/metrics").text;
  auto count = [&](const char* listener, const char* result) {
    return metric(m, std::string("lbproxy_proxy_protocol_headers_total{listener=\"") + listener +
                         "\",result=\"" + result + "\"}");
  };
  EXPECT_EQ(count("public", "invalid"), 2) << m;
  EXPECT_EQ(count("public", "timeout"), 1) << m;
  EXPECT_EQ(count("strict", "untrusted"), 1) << m;
  EXPECT_EQ(count("public", "ok"), 0) << m;
}

}  // namespace
}  // namespace lb::test
