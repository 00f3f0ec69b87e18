// TLS to backends: a Python TLS server (its own OpenSSL session, none of our code) with
// certificates from a test CA. Verification by name (SNI) and by IP, keep-alive and session
// resumption, a wrong CA and a wrong name refused with 502 and the reason in the access log and
// the host's counter, mTLS required by the backend, health checks over the same TLS, and a
// reload that re-reads a changed CA file.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/support/admin_client.h"
#include "tests/support/configs.h"
#include "tests/support/proxy_process.h"
#include "tests/support/test_client.h"
#include "tests/support/test_util.h"

namespace lb::test {
namespace {

using namespace std::chrono_literals;

// Two CAs (ca signs everything; other signs nothing we serve) and the certificates signed by
// ca: backend.test with IP 127.0.0.1, noip.test without an IP, and a client certificate.
struct Pki {
  TempDir dir;
  bool ok = false;
  Pki() {
    const std::string& d = dir.path();
    ok = makeCa(d, "ca") && makeCa(d, "other") &&
         makeSignedCertificate(d, "backend", "ca", "backend.test",
                               "DNS:backend.test,IP:127.0.0.1") &&
         makeSignedCertificate(d, "noip", "ca", "noip.test", "DNS:noip.test") &&
         makeSignedCertificate(d, "client", "ca", "lbproxy-client", "");
  }
  std::string path(const std::string& file) const { return dir.path() + "/" + file; }
};

class TlsBackend {
 public:
  TlsBackend(const Pki& pki, const std::string& stem, bool require_client_cert = false) {
    std::vector<std::string> argv = {"/usr/bin/python3",
                                     std::string(LB_SOURCE_DIR) + "/tests/support/tls_backend.py",
                                     "--cert",
                                     pki.path(stem + ".crt"),
                                     "--key",
                                     pki.path(stem + ".key")};
    if (require_client_cert) {
      argv.push_back("--client-ca");
      argv.push_back(pki.path("ca.crt"));
    }
    auto line = child_.start(argv) ? child_.waitForLine("listening ", 20s) : std::nullopt;
    if (line) port_ = std::stoi(line->substr(line->find("listening ") + 10));
  }
  bool ok() const { return port_ > 0; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  ChildProcess& process() { return child_; }

 private:
  ChildProcess child_;
  int port_ = 0;
};

// The backend's JSON view of the request, or null (with the status in "status").
nlohmann::json get(const ProxyProcess& proxy, const std::string& path) {
  auto r = httpGet(proxy.port(), path);
  if (!r) return {{"status", 0}};
  if (r->status != 200) return {{"status", r->status}, {"body", r->body}};
  try {
    return nlohmann::json::parse(r->body);
  } catch (const std::exception&) {
    return {{"status", -1}, {"body", r->body}};
  }
}

TestConfig tlsConfig(const TlsBackend& backend, const std::string& tls_block) {
  TestConfig cfg;
  cfg.hosts = {backend.address()};
  cfg.workers = 1;  // one worker: one session cache, one pool
  cfg.cluster_extra = "    tls:\n" + tls_block;
  return cfg;
}

// The value of one sample line of the exposition ("name{labels} value"), or -1.
double metric(const std::string& text, const std::string& series) {
  size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

TEST(UpstreamTls, VerifiedBackendWithSniKeepAliveAndResumption) {
  Pki pki;
  ASSERT_TRUE(pki.ok);
  TlsBackend backend(pki, "backend");
  ASSERT_TRUE(backend.ok()) << backend.process().output();
  ProxyProcess proxy(tlsConfig(backend, "      ca_file: " + pki.path("ca.crt") +
                                            "\n      server_name: backend.test\n")
                         .yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();

  auto first = get(proxy, "/first");
  ASSERT_EQ(first["path"], "/first") << first.dump();
  EXPECT_EQ(first["sni"], "backend.test");
  EXPECT_EQ(first["version"], "TLSv1.3");
  EXPECT_EQ(first["alpn"], "http/1.1");
  EXPECT_EQ(first["resumed"], false);
  EXPECT_EQ(first["client_cn"], "");

  // Keep-alive: the pooled TLS connection carries the next request.
  auto second = get(proxy, "/second");
  EXPECT_EQ(second["connection"], first["connection"]) << second.dump();

  // The backend closes it; the next connection resumes the session instead of a full
  // handshake.
  auto closing = get(proxy, "/close");
  EXPECT_EQ(closing["connection"], first["connection"]) << closing.dump();
  auto resumed = get(proxy, "/after-close");
  EXPECT_NE(resumed["connection"], first["connection"]) << resumed.dump();
  EXPECT_EQ(resumed["resumed"], true) << resumed.dump();
  EXPECT_EQ(resumed["sni"], "backend.test");
}

TEST(UpstreamTls, WithoutServerNameTheHostIpIsVerified) {
  Pki pki;
  ASSERT_TRUE(pki.ok);
  TlsBackend with_ip(pki, "backend"), without_ip(pki, "noip");
  ASSERT_TRUE(with_ip.ok() && without_ip.ok());
  const std::string block = "      ca_file: " + pki.path("ca.crt") + "\n";
  {
    ProxyProcess proxy(tlsConfig(with_ip, block).yaml());
    ASSERT_TRUE(proxy.ok()) << proxy.process().output();
    auto r = get(proxy, "/ip");
    EXPECT_EQ(r["path"], "/ip") << r.dump();
    EXPECT_EQ(r["sni"], "");  // an IP address is never sent as SNI (RFC 6066)
  }
  ProxyProcess proxy(tlsConfig(without_ip, block).yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  EXPECT_EQ(get(proxy, "/ip")["status"], 502);
  auto log = proxy.waitAccessLog(1);
  EXPECT_EQ(jsonField(log.at(0), "error"), "upstream_tls_failed") << log[0];
  EXPECT_EQ(jsonField(log.at(0), "error_detail"), "IP address mismatch") << log[0];
}

TEST(UpstreamTls, WrongCaOrNameIs502WithTheReasonAndCounted) {
  Pki pki;
  ASSERT_TRUE(pki.ok);
  TlsBackend backend(pki, "backend");
  ASSERT_TRUE(backend.ok());
  struct Case {
    std::string block, detail;
  };
  for (const Case& k :
       {Case{"      ca_file: " + pki.path("other.crt") + "\n",
             "unable to get local issuer certificate"},
        Case{"      ca_file: " + pki.path("ca.crt") + "\n      server_name: someone-else.test\n",
             "hostname mismatch"},
        // The system's CAs do not know our test CA.
        Case{"      server_name: backend.test\n", "unable to get local issuer certificate"}}) {
    ProxyProcess proxy(tlsConfig(backend, k.block).yaml());
    ASSERT_TRUE(proxy.ok()) << proxy.process().output();
    for (int i = 0; i < 3; ++i) EXPECT_EQ(get(proxy, "/refused")["status"], 502) << k.block;
    auto log = proxy.waitAccessLog(3);
    for (const auto& line : log) {
      EXPECT_EQ(jsonField(line, "status"), "502") << line;
      EXPECT_EQ(jsonField(line, "error"), "upstream_tls_failed") << line;
      EXPECT_EQ(jsonField(line, "error_detail"), k.detail) << line;
    }
    AdminClient admin(proxy.adminPort());
    std::string text = admin.get("/metrics").text;
    EXPECT_EQ(metric(text,
                     "lbproxy_host_upstream_errors_total{cluster=\"app\",host=\"h1\","
                     "reason=\"upstream_tls_failed\"}"),
              3)
        << text;
    EXPECT_EQ(metric(text,
                     "lbproxy_host_upstream_errors_total{cluster=\"app\",host=\"h1\","
                     "reason=\"connect_failed\"}"),
              0);
  }
  // With verification off (for a test bench, not production) the same backend serves.
  ProxyProcess proxy(tlsConfig(backend, "      verify: false\n").yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  EXPECT_EQ(get(proxy, "/unverified")["path"], "/unverified");
}

TEST(UpstreamTls, MutualTlsRequiredByTheBackend) {
  Pki pki;
  ASSERT_TRUE(pki.ok);
  TlsBackend backend(pki, "backend", /*require_client_cert=*/true);
  ASSERT_TRUE(backend.ok());
  const std::string trust =
      "      ca_file: " + pki.path("ca.crt") + "\n      server_name: backend.test\n";
  {
    ProxyProcess proxy(tlsConfig(backend, trust).yaml());
    ASSERT_TRUE(proxy.ok()) << proxy.process().output();
    EXPECT_EQ(get(proxy, "/no-cert")["status"], 502);
    auto log = proxy.waitAccessLog(1);
    EXPECT_EQ(jsonField(log.at(0), "error"), "upstream_tls_failed") << log[0];
    EXPECT_NE(jsonField(log.at(0), "error_detail").find("certificate required"), std::string::npos)
        << log[0];
  }
  ProxyProcess proxy(
      tlsConfig(backend, trust + "      client_certificate: { cert: " + pki.path("client.crt") +
                             ", key: " + pki.path("client.key") + " }\n")
          .yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  auto r = get(proxy, "/with-cert");
  EXPECT_EQ(r["path"], "/with-cert") << r.dump();
  EXPECT_EQ(r["client_cn"], "lbproxy-client");
}

TEST(UpstreamTls, HealthChecksUseTheClusterTls) {
  Pki pki;
  ASSERT_TRUE(pki.ok);
  TlsBackend backend(pki, "backend");
  ASSERT_TRUE(backend.ok());
  const std::string checks =
      "    health_check: { path: /health, interval: 200ms, timeout: 200ms, healthy_threshold: 1, "
      "unhealthy_threshold: 1 }\n";
  for (bool right_ca : {true, false}) {
    TestConfig cfg =
        tlsConfig(backend, "      ca_file: " + pki.path(right_ca ? "ca.crt" : "other.crt") +
                               "\n      server_name: backend.test\n");
    cfg.cluster_extra = checks + cfg.cluster_extra;
    ProxyProcess proxy(cfg.yaml());
    ASSERT_TRUE(proxy.ok()) << proxy.process().output();
    AdminClient admin(proxy.adminPort());
    const std::string want = right_ca ? "healthy" : "unhealthy";
    ASSERT_TRUE(waitUntil(
        [&] {
          auto h = admin.host("app", "h1");
          return !h.is_null() && h["health"] == want;
        },
        10s))
        << admin.host("app", "h1").dump();
    EXPECT_EQ(admin.host("app", "h1")["last_check"], right_ca ? "pass" : "tls_failed");
    if (right_ca) {
      EXPECT_EQ(get(proxy, "/checked")["path"], "/checked");
    }
  }
}

TEST(UpstreamTls, ReloadRereadsAChangedCaFile) {
  Pki pki;
  ASSERT_TRUE(pki.ok);
  TlsBackend backend(pki, "backend");
  ASSERT_TRUE(backend.ok());
  // trust.crt holds the wrong CA first.
  std::string out;
  ASSERT_EQ(runShell("cp " + pki.path("other.crt") + " " + pki.path("trust.crt"), &out), 0);
  ProxyProcess proxy(tlsConfig(backend, "      ca_file: " + pki.path("trust.crt") +
                                            "\n      server_name: backend.test\n")
                         .yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  EXPECT_EQ(get(proxy, "/before")["status"], 502);

  ASSERT_EQ(runShell("cp " + pki.path("ca.crt") + " " + pki.path("trust.crt"), &out), 0);
  AdminClient admin(proxy.adminPort());
  ASSERT_EQ(admin.call("POST", "/v1/config/reload").status, 200);
  EXPECT_EQ(get(proxy, "/after")["path"], "/after");

  // A CA file made unreadable fails the reload with its position and keeps the running
  // config (and its trust) serving.
  ASSERT_EQ(runShell("echo garbage > " + pki.path("trust.crt"), &out), 0);
  AdminResponse r = admin.call("POST", "/v1/config/reload");
  EXPECT_EQ(r.status, 422) << r.text;
  ASSERT_EQ(r.body["errors"].size(), 1u) << r.text;
  EXPECT_EQ(r.body["errors"][0]["field"], "clusters[0].tls.ca_file") << r.text;
  EXPECT_GT(r.body["errors"][0]["line"].get<int>(), 0);
  EXPECT_NE(r.text.find("no PEM certificate in CA file"), std::string::npos) << r.text;
  EXPECT_EQ(get(proxy, "/still")["path"], "/still");
}

}  // namespace
}  // namespace lb::test
