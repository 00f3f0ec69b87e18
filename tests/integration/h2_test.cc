// HTTP/2 from clients: curl and nghttp (Debian's nghttp2-client) over TLS (ALPN h2) and
// cleartext (prior knowledge), ALPN falling back to HTTP/1.1, what the HTTP/1.1 backend
// receives, large uploads and downloads with bounded memory, and abuse (Rapid Reset,
// CONTINUATION flood, SETTINGS and PING floods, HPACK bomb) from tests/support/h2_abuse.py.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
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

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCheckRss = false;  // ASan's quarantine makes RSS meaningless
#else
constexpr bool kCheckRss = true;
#endif
constexpr uint64_t kMiB = uint64_t{1} << 20;

// A TLS listener "public" (h2 by ALPN) and a cleartext listener "plain" with h2c.
struct H2Proxy {
  TempDir certs;
  std::unique_ptr<ProxyProcess> proxy;
  explicit H2Proxy(const std::string& backend, const std::string& route_timeout = "5s",
                   const std::string& h2_extra = "") {
    EXPECT_TRUE(makeCertificate(certs.path(), "a", {"a.test"}));
    TestConfig cfg;
    cfg.hosts = {backend};
    cfg.route_timeout = route_timeout;
    cfg.listener_extra = "    tls: { certificates: [{ cert: " + certs.path() +
                         "/a.crt, key: " + certs.path() + "/a.key }] }\n" +
                         (h2_extra.empty() ? "" : "    http2: { " + h2_extra + " }\n");
    std::string yaml = cfg.yaml();
    std::string plain = "  - name: plain\n    listen: 127.0.0.1:0\n    http2: { cleartext: true" +
                        (h2_extra.empty() ? "" : ", " + h2_extra) +
                        " }\n    routes:\n      - match: { path_prefix: / }\n        cluster: app\n"
                        "        timeout: " +
                        route_timeout + "\n";
    yaml.insert(yaml.find("clusters:"), plain);
    proxy = std::make_unique<ProxyProcess>(yaml);
  }
  std::string https(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(proxy->port("public")) + path;
  }
  std::string http(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(proxy->port("plain")) + path;
  }
};

std::string shell(const std::string& cmd, int* rc = nullptr) {
  std::string out;
  int code = runShell(cmd, &out);
  if (rc) *rc = code;
  return out;
}

TEST(Http2, CurlAndNghttpOverTlsAndCleartext) {
  std::atomic<int> good_heads{0};
  TestBackend backend([&](const BackendRequest& req, BackendConnection& conn) {
    bool host = false, proto = false, cookie = false, pseudo = false;
    for (const auto& [name, value] : req.headers) {
      host |= iequals(name, "host") && value.rfind("127.0.0.1:", 0) == 0;
      proto |= iequals(name, "x-forwarded-proto");
      cookie |= iequals(name, "cookie") && value == "a=1; b=2";
      pseudo |= !name.empty() && name[0] == ':';
    }
    if (req.version == "HTTP/1.1" && host && proto && !pseudo &&
        (req.target != "/cookie" || cookie))
      ++good_heads;
    conn.write(simpleResponse(200, "h2 body " + req.target, "X-Upstream: yes\r\n"));
  });
  H2Proxy h2(backend.address());
  ASSERT_TRUE(h2.proxy->ok()) << h2.proxy->process().output();

  // curl over TLS: ALPN picks h2; the response keeps the upstream's fields, in lower case.
  std::string out =
      shell("curl -sk --http2 -D - " + h2.https("/tls") + " -w '\\nversion=%{http_version}'");
  EXPECT_NE(out.find("HTTP/2 200"), std::string::npos) << out;
  EXPECT_NE(out.find("x-upstream: yes"), std::string::npos) << out;
  EXPECT_NE(out.find("x-request-id: "), std::string::npos) << out;
  EXPECT_NE(out.find("h2 body /tls"), std::string::npos) << out;
  EXPECT_NE(out.find("version=2"), std::string::npos) << out;
  // A client that offers only http/1.1 gets HTTP/1.1 on the same listener.
  out = shell("curl -sk --http1.1 " + h2.https("/h1") + " -w '\\nversion=%{http_version}'");
  EXPECT_NE(out.find("version=1.1"), std::string::npos) << out;
  // Cleartext with prior knowledge, and plain HTTP/1.1 on the same port.
  out = shell("curl -s --http2-prior-knowledge -H 'Cookie: a=1' -H 'Cookie: b=2' " +
              h2.http("/cookie") + " -w '\\nversion=%{http_version}'");
  EXPECT_NE(out.find("h2 body /cookie"), std::string::npos) << out;
  EXPECT_NE(out.find("version=2"), std::string::npos) << out;
  out = shell("curl -s " + h2.http("/plain-h1") + " -w '\\nversion=%{http_version}'");
  EXPECT_NE(out.find("version=1.1"), std::string::npos) << out;

  // nghttp: 20 concurrent streams on one TLS connection, all answered.
  int rc = 0;
  out = shell("nghttp -n -s -m 20 " + h2.https("/many"), &rc);
  EXPECT_EQ(rc, 0) << out;
  size_t answered = 0;
  for (size_t at = 0; (at = out.find(" 200 ", at)) != std::string::npos; ++at) ++answered;
  EXPECT_EQ(answered, 20u) << out;
  EXPECT_EQ(good_heads.load(), 24) << "every request reached the backend as clean HTTP/1.1";

  auto log = h2.proxy->waitAccessLog(24);
  size_t h2_tls = 0, h2_plain = 0;
  for (const auto& line : log) {
    if (jsonField(line, "protocol") == "h2" && jsonField(line, "tls") == "TLSv1.3") ++h2_tls;
    if (jsonField(line, "protocol") == "h2" && jsonField(line, "tls").empty()) ++h2_plain;
  }
  EXPECT_EQ(h2_tls, 21u);
  EXPECT_EQ(h2_plain, 1u);
  std::string metrics = AdminClient(h2.proxy->adminPort()).get("/metrics").text;
  EXPECT_NE(metrics.find("lbproxy_downstream_requests_total{listener=\"public\",protocol=\"h2\","
                         "tls=\"TLSv1.3\"} 21"),
            std::string::npos)
      << metrics;
}

// Stream objects are pooled per worker and reused: nothing of an earlier request (fields,
// cookie, body, request id, response fields) may reach a later one. Three connections with
// different requests, four streams each: with two workers, two connections share a pool.
TEST(Http2, ReusedStreamsCarryNothingOver) {
  std::mutex mu;
  std::vector<std::string> problems;
  std::set<std::string> ids;
  TestBackend backend([&](const BackendRequest& req, BackendConnection& conn) {
    const std::string k = req.target.substr(req.target.rfind('-') + 1);
    int probes = 0, cookies = 0;
    std::string cookie, id;
    for (const auto& [name, value] : req.headers) {
      if (iequals(name, "x-probe")) ++probes;
      if (iequals(name, "cookie")) ++cookies, cookie = value;
      if (iequals(name, "x-request-id")) id = value;
    }
    std::lock_guard<std::mutex> lock(mu);
    if (probes != 1 || cookies != 1 || cookie != "c=" + k || req.body != "body-" + k)
      problems.push_back(req.target + ": cookie '" + cookie + "' body '" + req.body + "' " +
                         std::to_string(probes) + " probes " + std::to_string(cookies) +
                         " cookies");
    if (id.size() != 32 || !ids.insert(id).second) problems.push_back("request id " + id);
    // Every other connection gets an extra response field: it must not stick to a stream.
    conn.write(simpleResponse(200, "k" + k, k == "2" ? "X-Only-Two: yes\r\n" : ""));
  });
  H2Proxy h2(backend.address());
  ASSERT_TRUE(h2.proxy->ok()) << h2.proxy->process().output();
  for (int k = 1; k <= 3; ++k) {
    TempDir dir;
    std::ofstream(dir.path() + "/body") << "body-" << k;
    const std::string kk = std::to_string(k);
    int rc = 0;
    std::string out =
        shell("nghttp -nv -m 4 -H 'x-probe: " + kk + "' -H 'cookie: c=" + kk + "' -d " +
                  dir.path() + "/body " + h2.https("/reuse-" + kk) + " 2>&1",
              &rc);
    EXPECT_EQ(rc, 0) << out;
    size_t answered = 0;
    for (size_t at = 0; (at = out.find(":status: 200", at)) != std::string::npos; ++at) ++answered;
    EXPECT_EQ(answered, 4u) << out;
    EXPECT_EQ(out.find("x-only-two") != std::string::npos, k == 2) << out;
  }
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_TRUE(problems.empty()) << problems.front();
  EXPECT_EQ(ids.size(), 12u);
}

TEST(Http2, DemoInstancesBehindTlsAndCleartextHttp2) {
  ChildProcess demo;
  uint16_t port = refusedPort();
  ASSERT_TRUE(demo.start({demoInstanceBinary(), "--port", std::to_string(port), "--instance",
                          "app-1", "--version", "2.0.0", "--latency-scale", "0"}));
  ASSERT_TRUE(demo.waitForLine("listening", 10s)) << demo.output();
  H2Proxy h2("127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(h2.proxy->ok()) << h2.proxy->process().output();
  for (const std::string& url : {h2.https("/api/products/7"), h2.http("/api/products/7")}) {
    std::string out = shell(std::string("curl -sk -D - ") +
                            (url[4] == 's' ? "--http2 " : "--http2-prior-knowledge ") + url);
    EXPECT_NE(out.find("HTTP/2 200"), std::string::npos) << out;
    EXPECT_NE(out.find("x-app-version: 2.0.0"), std::string::npos) << out;
    EXPECT_NE(out.find("\"id\":7"), std::string::npos) << out;
  }
  int rc = 0;
  std::string out = shell("nghttp -n -s -m 10 " + h2.https("/api/products"), &rc);
  EXPECT_EQ(rc, 0) << out;
}

TEST(Http2, ErrorsStreamLimitsAndIdleTimeout) {
  TestBackend backend([](const BackendRequest& req, BackendConnection& conn) {
    if (req.target == "/hang") std::this_thread::sleep_for(3s);
    conn.write(simpleResponse(200, "x"));
  });
  H2Proxy h2(backend.address(), "30s", "stream_idle_timeout: 500ms");
  ASSERT_TRUE(h2.proxy->ok()) << h2.proxy->process().output();

  // A stream with no frame either way for stream_idle_timeout ends with 504 (the route's
  // response timeout is 30 s, curl's limit 20 s).
  std::string out = shell("curl -s -m 20 --http2-prior-knowledge -D - " + h2.http("/hang"));
  EXPECT_NE(out.find("HTTP/2 504"), std::string::npos) << out;

  // A header list over max_header_bytes: the stream is reset, nothing is forwarded.
  size_t before = backend.requestCount();
  int rc = 0;
  out = shell("curl -s --http2-prior-knowledge -H 'x-big: " + std::string(40000, 'b') + "' " +
                  h2.http("/big-head"),
              &rc);
  EXPECT_NE(rc, 0) << out;
  EXPECT_EQ(backend.requestCount(), before);

  // No listening backend: a 502 from the proxy, as an HTTP/2 response with a request id.
  backend.stop();
  out = shell("curl -s --http2-prior-knowledge -D - " + h2.http("/down"));
  EXPECT_NE(out.find("HTTP/2 502"), std::string::npos) << out;
  EXPECT_NE(out.find("x-request-id"), std::string::npos) << out;
}

// One request object answers errors for both protocols: the same status, fields and body
// over HTTP/1.1 and HTTP/2, and no body for HEAD.
TEST(Http2, ErrorResponsesAreTheSameOnBothProtocols) {
  TestBackend backend([](const BackendRequest&, BackendConnection& conn) {
    // Two lengths: a response the proxy refuses (502).
    conn.write("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx");
  });
  H2Proxy h2(backend.address());
  ASSERT_TRUE(h2.proxy->ok()) << h2.proxy->process().output();
  auto body = [&](const std::string& flags) {
    return shell("curl -s -H 'X-Request-Id: same-id' " + flags + " " + h2.http("/refused"));
  };
  const std::string h1 = body("--http1.1");
  const std::string h2c = body("--http2-prior-knowledge");
  EXPECT_EQ(h1.rfind("502 Bad Gateway: ", 0), 0u) << h1;
  EXPECT_NE(h1.find("\nrequest-id: same-id\n"), std::string::npos) << h1;
  EXPECT_EQ(h1, h2c);

  auto head = [&](const std::string& flags) {
    return shell("curl -s -I -H 'X-Request-Id: same-id' " + flags + " " + h2.http("/refused"));
  };
  for (const std::string& flags :
       {std::string("--http1.1"), std::string("--http2-prior-knowledge")}) {
    std::string out = head(flags);
    std::string lower;
    for (char c : out)
      lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    EXPECT_NE(lower.find(" 502"), std::string::npos) << flags << "\n" << out;
    EXPECT_NE(lower.find("content-type: text/plain; charset=utf-8"), std::string::npos) << out;
    EXPECT_NE(lower.find("content-length: " + std::to_string(h1.size())), std::string::npos) << out;
    EXPECT_NE(lower.find("x-request-id: same-id"), std::string::npos) << out;
    EXPECT_EQ(out.find("Bad Gateway:"), std::string::npos) << "HEAD got a body: " << out;
  }
}

TEST(Http2, LargeUploadAndSlowDownloadKeepMemoryBounded) {
  constexpr uint64_t kDown = 256 * kMiB;
  TestBackend backend([](const BackendRequest& req, BackendConnection& conn) {
    if (req.method == "POST") {
      conn.write(simpleResponse(200, std::to_string(req.body_bytes) +
                                         (req.body_pattern_ok ? " ok" : " bad") +
                                         (req.chunked ? " chunked" : " length")));
      return;
    }
    if (req.target == "/warm") {
      conn.write(simpleResponse(200, "w"));
      return;
    }
    conn.write("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kDown) + "\r\n\r\n");
    writePatternBody(conn, kDown);
  });
  backend.setBodyStall(1500ms);  // the upload meets a backend that does not read at first
  H2Proxy h2(backend.address(), "60s");
  ASSERT_TRUE(h2.proxy->ok()) << h2.proxy->process().output();
  for (int i = 0; i < 10; ++i) shell("curl -sk --http2 " + h2.https("/warm"));
  long baseline = h2.proxy->process().peakRssKiB();

  // 128 MiB up, with a length and without one (chunked to the backend).
  std::string file = h2.certs.path() + "/up.bin";
  {
    std::ofstream f(file, std::ios::binary);
    std::string block(1 << 20, '\0');
    for (uint64_t sent = 0; sent < 128 * kMiB; sent += block.size()) {
      for (size_t i = 0; i < block.size(); ++i) block[i] = patternByte(sent + i);
      f.write(block.data(), static_cast<std::streamsize>(block.size()));
    }
  }
  std::string out = shell("curl -sk --http2 --data-binary @" + file + " " + h2.https("/up"));
  EXPECT_EQ(out, std::to_string(128 * kMiB) + " ok length");
  out = shell("cat " + file + " | curl -sk --http2 -X POST -T - " + h2.https("/up"));
  EXPECT_EQ(out, std::to_string(128 * kMiB) + " ok chunked");

  // 256 MiB down to a reader limited to 64 MiB/s while the backend sends at full speed.
  out = shell("curl -sk --http2 --limit-rate 64M -o /dev/null -w '%{size_download} %{http_code}' " +
              h2.https("/down"));
  EXPECT_EQ(out, std::to_string(kDown) + " 200");
  long peak = h2.proxy->process().peakRssKiB();
  std::printf(
      "[ measure ] h2: 2 x 128 MiB up, 256 MiB down (slow reader): peak RSS growth %ld KiB\n",
      peak - baseline);
  if (kCheckRss) {
    EXPECT_LT(peak - baseline, 16 * 1024);
  }
}

nlohmann::json abuse(uint16_t port, const std::string& mode, int timeout_s = 10) {
  std::string out =
      shell("/usr/bin/python3 " + std::string(LB_SOURCE_DIR) + "/tests/support/h2_abuse.py " +
            std::to_string(port) + " " + mode + " " + std::to_string(timeout_s));
  size_t brace = out.rfind('{');
  nlohmann::json j =
      nlohmann::json::parse(brace == std::string::npos ? out : out.substr(brace), nullptr, false);
  EXPECT_TRUE(j.is_object()) << out;
  return j;
}

TEST(Http2, AbusiveConnectionsAreClosedAndOthersKeepWorking) {
  TestBackend backend(answers("fine"));
  H2Proxy h2(backend.address());
  ASSERT_TRUE(h2.proxy->ok()) << h2.proxy->process().output();
  const uint16_t port = h2.proxy->port("plain");

  // Rapid Reset: every stream is reset in the same write as its HEADERS. The connection gets
  // GOAWAY ENHANCE_YOUR_CALM (11), and not one request reaches the backend.
  nlohmann::json r = abuse(port, "rapid_reset");
  EXPECT_EQ(r["closed"], true) << r.dump();
  EXPECT_EQ(r["goaway"], 11) << r.dump();
  EXPECT_EQ(r["streams_answered"], 0) << r.dump();
  EXPECT_EQ(backend.requestCount(), 0u);

  for (const char* mode : {"continuation", "settings", "ping", "hpack_bomb"}) {
    r = abuse(port, mode);
    EXPECT_EQ(r["closed"], true) << r.dump();
    EXPECT_EQ(r["streams_answered"], 0) << r.dump();
  }
  EXPECT_EQ(backend.requestCount(), 0u);

  // A header value with CR LF in it: refused, never copied into an HTTP/1.1 head.
  r = abuse(port, "crlf", 2);
  EXPECT_EQ(r["streams_answered"], 0) << r.dump();
  EXPECT_EQ(backend.requestCount(), 0u);

  // The proxy is up and serves everyone else.
  std::string out = shell("curl -s --http2-prior-knowledge " + h2.http("/after"));
  EXPECT_EQ(out, "fine");
  EXPECT_EQ(httpGet(h2.proxy->port("plain"), "/after-h1")->status, 200);
}

// The two h2spec cases libnghttp2 alone does not get right, and a :path no HTTP/1.1 request
// line may carry.
TEST(Http2, LowerStreamIdsAndBadPrefacesAreConnectionErrors) {
  TestBackend backend(answers("fine"));
  H2Proxy h2(backend.address());
  ASSERT_TRUE(h2.proxy->ok()) << h2.proxy->process().output();
  const uint16_t port = h2.proxy->port("plain");

  // RFC 9113 5.1.1: stream 3 after stream 5 is a connection error PROTOCOL_ERROR (1).
  nlohmann::json r = abuse(port, "lower_stream_id", 5);
  EXPECT_EQ(r["goaway"], 1) << r.dump();
  EXPECT_EQ(r["closed"], true) << r.dump();
  // (stream 5 may or may not have been served: the GOAWAY names it as the last one)

  // RFC 9113 3.4 on a port that speaks both: a broken preface gets GOAWAY PROTOCOL_ERROR and a
  // close, never an HTTP/1.1 400.
  r = abuse(port, "bad_preface", 5);
  EXPECT_EQ(r["goaway"], 1) << r.dump();
  EXPECT_EQ(r["closed"], true) << r.dump();
  EXPECT_EQ(r["http1_answer"], false) << r.dump();
  // ...while an HTTP/1.1 client with a broken request line on a plain-only listener still
  // gets its 400.
  TestClient c(h2.proxy->port("public"));
  ASSERT_TRUE(c.startTls("a.test"));
  ASSERT_TRUE(c.send("INVALID CONNECTION PREFACE\r\n\r\n"));
  auto resp = c.read();
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 400);

  // A :path with '"' and '<' is answered 400 and never forwarded.
  const size_t before = backend.requestCount();
  r = abuse(port, "bad_path", 3);
  EXPECT_EQ(r["statuses"], nlohmann::json({400})) << r.dump();
  EXPECT_EQ(backend.requestCount(), before);
}

// HTTP/2 has no transfer codings: a body the backend sends gzip-transfer-coded cannot be
// described to an HTTP/2 client, so it is a 502, while an HTTP/1.1 client gets it as sent.
TEST(Http2, ATransferCodedResponseIsA502ForHttp2Clients) {
  TestBackend backend([](const BackendRequest&, BackendConnection& conn) {
    conn.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  });
  H2Proxy h2(backend.address());
  ASSERT_TRUE(h2.proxy->ok()) << h2.proxy->process().output();
  EXPECT_EQ(
      shell("curl -s -o /dev/null -w '%{http_code}' --http2-prior-knowledge " + h2.http("/coded")),
      "502");
  auto resp = httpGet(h2.proxy->port("plain"), "/coded");
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 200);
  ASSERT_TRUE(resp->header("Transfer-Encoding"));
  EXPECT_EQ(*resp->header("Transfer-Encoding"), "gzip, chunked");
}

TEST(Http2, RequestsPerConnectionCapAndGracefulGoAway) {
  TestBackend backend(answers("c"));
  H2Proxy h2(backend.address(), "5s", "max_requests_per_connection: 5");
  ASSERT_TRUE(h2.proxy->ok()) << h2.proxy->process().output();
  // Sequential streams on one connection: after the fifth the server says GOAWAY, and nghttp
  // reports the streams it could not send.
  std::string out = shell("nghttp -nv -m 8 " + h2.http("/cap") + " 2>&1");
  EXPECT_NE(out.find("recv GOAWAY frame"), std::string::npos) << out;
  size_t answered = 0;
  for (size_t at = 0; (at = out.find(":status: 200", at)) != std::string::npos; ++at) ++answered;
  EXPECT_EQ(answered, 5u) << out;
}

TEST(Http2, ShutdownSendsTwoGoAwaysAndFinishesStreamsInFlight) {
  TestBackend backend([](const BackendRequest& req, BackendConnection& conn) {
    if (req.target == "/slow") std::this_thread::sleep_for(1500ms);
    conn.write(simpleResponse(200, "done " + req.target));
  });
  H2Proxy h2(backend.address());
  ASSERT_TRUE(h2.proxy->ok()) << h2.proxy->process().output();
  std::string out;
  std::thread client([&] { out = shell("nghttp -nv " + h2.http("/slow") + " 2>&1"); });
  ASSERT_TRUE(waitUntil([&] { return backend.requestCount() == 1; }, 5s));
  h2.proxy->process().signal(SIGTERM);
  client.join();
  EXPECT_EQ(h2.proxy->process().waitExit(10s), 0);
  // First GOAWAY: last stream 2^31-1 (no new streams, please); then the final one naming
  // the stream in flight, which still gets its whole response.
  size_t first = out.find("recv GOAWAY");
  ASSERT_NE(first, std::string::npos) << out;
  EXPECT_NE(out.find("last_stream_id=2147483647"), std::string::npos) << out;
  EXPECT_NE(out.find("recv GOAWAY", first + 1), std::string::npos) << out;
  EXPECT_NE(out.find(":status: 200"), std::string::npos) << out;
}

}  // namespace
}  // namespace lb::test
