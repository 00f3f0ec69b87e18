// TLS on a listener: the certificate chosen by SNI, TLS 1.2 and 1.3 only, ALPN, resumption by
// tickets across workers, the handshake timeout, certificates re-read on reload while open
// connections keep working, bounded memory for a large download to a slow TLS reader, and
// testssl.sh (Debian) finding nothing weak.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
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

// Certificates a.test (the default) and b.test / *.b.test in a temporary directory.
struct Certs {
  TempDir dir;
  Certs() {
    EXPECT_TRUE(makeCertificate(dir.path(), "a", {"a.test"}));
    EXPECT_TRUE(makeCertificate(dir.path(), "b", {"b.test", "*.b.test"}));
  }
  // A proxy config with one TLS listener in front of `backend`.
  TestConfig config(const TestBackend& backend) const {
    TestConfig cfg;
    cfg.hosts = {backend.address()};
    cfg.listener_extra = tlsBlock();
    return cfg;
  }
  std::string tlsBlock(const std::string& extra = "") const {
    return "    tls:\n" + extra + "      certificates:\n        - { cert: " + dir.path() +
           "/a.crt, key: " + dir.path() + "/a.key }\n        - { cert: " + dir.path() +
           "/b.crt, key: " + dir.path() + "/b.key }\n";
  }
};

std::optional<ClientResponse> getOver(TestClient& c, const std::string& path) {
  if (!c.send("GET " + path + " HTTP/1.1\r\nHost: a.test\r\n\r\n")) return std::nullopt;
  return c.read();
}

// The value of one sample line of the exposition ("name{labels} value"), or -1.
double metric(const std::string& text, const std::string& series) {
  size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

TEST(Tls, SniChoosesTheCertificateAndBothVersionsServe) {
  Certs certs;
  std::atomic<int> https_seen{0};
  TestBackend backend([&](const BackendRequest& req, BackendConnection& conn) {
    for (const auto& [name, value] : req.headers)
      if (iequals(name, "x-forwarded-proto") && value == "https") ++https_seen;
    conn.write(simpleResponse(200, "hello"));
  });
  ProxyProcess proxy(certs.config(backend).yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();

  struct Case {
    std::string sni, cn;
  };
  for (const Case& k :
       {Case{"b.test", "b.test"}, Case{"api.b.test", "b.test"}, Case{"a.test", "a.test"},
        Case{"unknown.test", "a.test"}, Case{"", "a.test"}}) {
    TestClient c(proxy.port());
    ASSERT_TRUE(c.startTls(k.sni)) << k.sni;
    EXPECT_EQ(c.peerCommonName(), k.cn) << k.sni;
    EXPECT_EQ(c.tlsVersion(), "TLSv1.3");
    EXPECT_EQ(c.alpnSelected(), "http/1.1");
    auto r = getOver(c, "/sni");
    ASSERT_TRUE(r) << k.sni;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "hello");
    // Keep-alive over TLS: a second request on the same connection.
    auto again = getOver(c, "/again");
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 200);
  }

  // No ALPN in common (or none offered): HTTP/1.1 all the same.
  for (const std::vector<std::string>& offer :
       {std::vector<std::string>{"spdy/3"}, std::vector<std::string>{}}) {
    TestClient c(proxy.port());
    ASSERT_TRUE(c.startTls("a.test", offer));
    EXPECT_EQ(c.alpnSelected(), "");
    auto r = getOver(c, "/no-alpn");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }

  // TLS 1.2 is served; TLS 1.1 is refused (checked with the openssl tool, which can still
  // offer it).
  std::string out;
  EXPECT_EQ(runShell("echo | openssl s_client -connect 127.0.0.1:" + std::to_string(proxy.port()) +
                         " -tls1_2 -servername b.test",
                     &out),
            0)
      << out;
  EXPECT_NE(out.find("New, TLSv1.2, Cipher is ECDHE-"), std::string::npos) << out;
  out.clear();
  EXPECT_NE(runShell("echo | openssl s_client -connect 127.0.0.1:" + std::to_string(proxy.port()) +
                         " -tls1_1 -cipher DEFAULT@SECLEVEL=0",
                     &out),
            0);
  EXPECT_NE(out.find("alert protocol version"), std::string::npos) << out;

  EXPECT_EQ(https_seen.load(), 12);  // every request told the backend it came over TLS

  auto log = proxy.waitAccessLog(12);
  ASSERT_GE(log.size(), 12u);
  EXPECT_EQ(jsonField(log[0], "protocol"), "http/1.1");
  EXPECT_EQ(jsonField(log[0], "tls"), "TLSv1.3");
}

TEST(Tls, TicketsResumeSessionsOnEveryWorker) {
  Certs certs;
  TestBackend backend(answers("r"));
  TestConfig cfg = certs.config(backend);
  cfg.workers = 2;  // resumption across workers
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();

  SSL_SESSION* session = nullptr;
  {
    TestClient first(proxy.port());
    ASSERT_TRUE(first.startTls("a.test"));
    ASSERT_EQ(getOver(first, "/")->status, 200);  // the TLS 1.3 ticket comes after the handshake
    session = first.session();
  }
  ASSERT_NE(session, nullptr);
  int reused = 0;
  for (int i = 0; i < 8; ++i) {  // SO_REUSEPORT spreads these over both workers
    TestClient c(proxy.port());
    ASSERT_TRUE(c.startTls("a.test", {"http/1.1"}, session));
    reused += c.sessionReused();
    EXPECT_EQ(getOver(c, "/")->status, 200);
  }
  SSL_SESSION_free(session);
  EXPECT_EQ(reused, 8);

  std::string text = AdminClient(proxy.adminPort()).get("/metrics").text;
  EXPECT_EQ(metric(text, "lbproxy_tls_handshakes_total{listener=\"public\",result=\"resumed\"}"),
            8);
  EXPECT_EQ(metric(text, "lbproxy_tls_handshakes_total{listener=\"public\",result=\"full\"}"), 1);
  EXPECT_EQ(metric(text,
                   "lbproxy_downstream_requests_total{listener=\"public\",protocol=\"http/"
                   "1.1\",tls=\"TLSv1.3\"}"),
            9);
}

TEST(Tls, HandshakeTimeoutAndGarbageCloseTheConnection) {
  Certs certs;
  TestBackend backend(answers("x"));
  TestConfig cfg;
  cfg.hosts = {backend.address()};
  cfg.listener_extra =
      "    request_headers_timeout: 60s\n" + certs.tlsBlock("      handshake_timeout: 300ms\n");
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();

  TestClient silent(proxy.port());
  EXPECT_TRUE(silent.waitClosed(10s));  // the handshake deadline, not the 60 s head deadline

  TestClient plain(proxy.port());  // plain HTTP to a TLS port: not a ClientHello
  ASSERT_TRUE(plain.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  std::string rest = plain.readUntilClose(10s);
  EXPECT_EQ(rest.find("HTTP/1.1"), std::string::npos);  // nothing is forwarded or answered
  EXPECT_EQ(backend.requestCount(), 0u);

  AdminClient admin(proxy.adminPort());
  ASSERT_TRUE(waitUntil(
      [&] {
        std::string text = admin.get("/metrics").text;
        return metric(text,
                      "lbproxy_tls_handshakes_total{listener=\"public\",result=\"timeout\"}") ==
                   1 &&
               metric(text,
                      "lbproxy_tls_handshakes_total{listener=\"public\",result=\"failed\"}") == 1;
      },
      5s))
      << admin.get("/metrics").text;
}

TEST(Tls, ReloadReadsNewCertificatesAndOpenConnectionsKeepGoing) {
  Certs certs;
  TestBackend backend(answers("k"));
  ProxyProcess proxy(certs.config(backend).yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  AdminClient admin(proxy.adminPort());

  TestClient open(proxy.port());
  ASSERT_TRUE(open.startTls("a.test"));
  EXPECT_EQ(open.peerCommonName(), "a.test");
  ASSERT_EQ(getOver(open, "/before")->status, 200);

  // A renewed certificate for the default name, written over the old files.
  const std::string& d = certs.dir.path();
  ASSERT_TRUE(makeCertificate(d, "renewed", {"renewed.a.test"}));
  ASSERT_EQ(std::rename((d + "/renewed.crt").c_str(), (d + "/a.crt").c_str()), 0);
  ASSERT_EQ(std::rename((d + "/renewed.key").c_str(), (d + "/a.key").c_str()), 0);
  AdminResponse r = admin.call("POST", "/v1/config/reload");
  ASSERT_EQ(r.status, 200) << r.text;

  TestClient fresh(proxy.port());
  ASSERT_TRUE(fresh.startTls("a.test"));
  EXPECT_EQ(fresh.peerCommonName(), "renewed.a.test");
  EXPECT_EQ(getOver(fresh, "/after")->status, 200);
  auto still = getOver(open, "/still-open");  // the old connection is not dropped
  ASSERT_TRUE(still);
  EXPECT_EQ(still->status, 200);

  // A key that does not belong to the certificate: the reload fails, with the reason, and
  // the running certificates stay.
  ASSERT_EQ(std::rename((d + "/b.key").c_str(), (d + "/a.key").c_str()), 0);
  r = admin.call("POST", "/v1/config/reload");
  EXPECT_EQ(r.status, 422) << r.text;
  EXPECT_NE(r.text.find("does not match certificate"), std::string::npos) << r.text;
  EXPECT_NE(r.text.find("listeners[0].tls.certificates[0]"), std::string::npos) << r.text;
  TestClient after(proxy.port());
  ASSERT_TRUE(after.startTls("a.test"));
  EXPECT_EQ(after.peerCommonName(), "renewed.a.test");
  EXPECT_EQ(getOver(after, "/")->status, 200);
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCheckRss = false;  // ASan's quarantine makes RSS meaningless
#else
constexpr bool kCheckRss = true;
#endif

TEST(Tls, LargeDownloadToASlowTlsReaderKeepsRssBounded) {
  constexpr uint64_t kMiB = uint64_t{1} << 20;
  constexpr uint64_t kSize = 256 * kMiB;
  Certs certs;
  TestBackend backend([](const BackendRequest& req, BackendConnection& conn) {
    if (req.target == "/warm") {
      conn.write(simpleResponse(200, "w"));
      return;
    }
    conn.write("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kSize) + "\r\n\r\n");
    writePatternBody(conn, kSize);
  });
  TestConfig cfg = certs.config(backend);
  cfg.route_timeout = "30s";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  for (int i = 0; i < 10; ++i) {
    TestClient w(proxy.port());
    ASSERT_TRUE(w.startTls("a.test"));
    getOver(w, "/warm");
  }
  long baseline = proxy.process().peakRssKiB();

  TestClient c(proxy.port());
  c.setReceiveBuffer(64 * 1024);
  ASSERT_TRUE(c.startTls("a.test"));
  ASSERT_TRUE(c.send("GET /big HTTP/1.1\r\nHost: a\r\n\r\n"));
  uint64_t seen = 0, next_pause = 32 * kMiB;
  bool pattern_ok = true;
  auto resp = c.read(false, 300s, [&](std::string_view data) {
    for (size_t i = 0; i < data.size() && pattern_ok; i += 4093)
      pattern_ok = data[i] == patternByte(seen + i);
    seen += data.size();
    if (seen >= next_pause) {
      std::this_thread::sleep_for(300ms);  // the slow reader
      next_pause += 64 * kMiB;
    }
  });
  ASSERT_TRUE(resp);
  EXPECT_TRUE(resp->complete);
  EXPECT_EQ(resp->body_bytes, kSize);
  EXPECT_TRUE(pattern_ok);
  long peak = proxy.process().peakRssKiB();
  std::printf("[ measure ] 256 MiB TLS download, slow reader: peak RSS growth %ld KiB\n",
              peak - baseline);
  if (kCheckRss) {
    EXPECT_LT(peak - baseline, 16 * 1024);
  }
}

TEST(Tls, TestsslFindsNoWeakProtocolCipherOrRenegotiation) {
  Certs certs;
  TestBackend backend(answers("t"));
  ProxyProcess proxy(certs.config(backend).yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();

  // -p protocols, -s cipher categories, -f forward secrecy, -E ciphers per protocol,
  // -R renegotiation, -C compression (CRIME).
  std::string json = certs.dir.path() + "/testssl.json", out;
  int rc = runShell("testssl --quiet --color 0 --warnings off -p -s -f -E -R -C --jsonfile " +
                        json + " 127.0.0.1:" + std::to_string(proxy.port()),
                    &out);
  ASSERT_NE(rc, -1) << out;
  std::ifstream in(json);
  ASSERT_TRUE(in) << out;
  nlohmann::json findings = nlohmann::json::parse(in, nullptr, false);
  ASSERT_TRUE(findings.is_array()) << out;
  std::map<std::string, std::string> by_id;
  for (const auto& f : findings) {
    std::string severity = f.value("severity", "");
    by_id[f.value("id", "")] = f.value("finding", "");
    EXPECT_TRUE(severity == "OK" || severity == "INFO" ||
                (severity == "WARN" && f.value("id", "") == "engine_problem"))
        << f.dump();
  }
  for (const char* old : {"SSLv2", "SSLv3", "TLS1", "TLS1_1"})
    EXPECT_EQ(by_id[old].rfind("not offered", 0), 0u) << old << ": " << by_id[old];
  EXPECT_EQ(by_id["TLS1_2"].rfind("offered", 0), 0u) << by_id["TLS1_2"];
  EXPECT_EQ(by_id["TLS1_3"].rfind("offered", 0), 0u) << by_id["TLS1_3"];
  EXPECT_EQ(by_id["secure_client_renego"], "not vulnerable") << out;
  EXPECT_EQ(by_id["CRIME_TLS"], "not vulnerable") << out;
  EXPECT_EQ(by_id["cipherlist_NULL"], "not offered");
  EXPECT_EQ(by_id["cipherlist_3DES_IDEA"], "not offered");
  EXPECT_EQ(by_id["cipherlist_AVERAGE"], "not offered");
}

}  // namespace
}  // namespace lb::test
