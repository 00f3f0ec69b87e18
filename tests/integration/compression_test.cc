// Response compression (docs/compression.md) on a real lbproxy with a real backend: curl
// --compressed decodes gzip and brotli byte for byte over HTTP/1.1 and HTTP/2; what must be
// left alone is; the counters say what was coded; a large body streams through the coder in
// bounded memory.
#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
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

#if defined(__SANITIZE_ADDRESS__)
// ASan's quarantine keeps freed memory: RSS says nothing there (see proxy_streaming_test).
constexpr bool kCheckRss = false;
#else
constexpr bool kCheckRss = true;
#endif

// Words from a page's vocabulary: compresses as HTML does, not as one repeated byte.
std::string pageText(size_t size) {
  static const char* const kWords[] = {"<li class=\"order\">",
                                       "shipped",
                                       "pending",
                                       "</li>\n",
                                       "customer",
                                       "12.50",
                                       "<span>",
                                       "</span>",
                                       " total "};
  std::mt19937 rng(42);
  std::string s;
  while (s.size() < size) s += kWords[rng() % (sizeof(kWords) / sizeof(kWords[0]))];
  s.resize(size);
  return s;
}

const std::string kPage = pageText(1 << 20);

void shopBackend(const BackendRequest& req, BackendConnection& conn) {
  const std::string& t = req.target;
  if (t == "/page" || t == "/page.etag") {
    conn.write(simpleResponse(200, kPage,
                              std::string("Content-Type: text/html; charset=utf-8\r\n") +
                                  (t == "/page.etag" ? "ETag: \"v7\"\r\nVary: Cookie\r\n" : "")));
  } else if (t == "/chunked") {
    // Chunks of uneven sizes, as an application streams a page it renders.
    std::string out =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n";
    for (size_t at = 0, n = 1; at < kPage.size(); at += n, n = n * 3 + 7) {
      n = std::min(n, kPage.size() - at);
      char size[20];
      std::snprintf(size, sizeof(size), "%zx\r\n", n);
      out += size + kPage.substr(at, n) + "\r\n";
    }
    out += "0\r\n\r\n";
    conn.write(out);
  } else if (t == "/small") {
    conn.write(simpleResponse(200, std::string(100, 's'), "Content-Type: text/plain\r\n"));
  } else if (t == "/image") {
    conn.write(simpleResponse(200, kPage, "Content-Type: image/png\r\n"));
  } else if (t == "/coded") {
    conn.write(
        simpleResponse(200, kPage, "Content-Type: text/plain\r\nContent-Encoding: zstd\r\n"));
  } else if (t == "/keep") {
    conn.write(simpleResponse(
        200, kPage, "Content-Type: text/plain\r\nCache-Control: public, no-transform\r\n"));
  } else {
    conn.write(simpleResponse(404, "no", "Content-Type: image/gif\r\n"));
  }
}

std::string compressionConfig(const TestBackend& app, const std::string& compression,
                              bool access_log = false) {
  TestConfig cfg;
  cfg.hosts = {app.address()};
  if (!access_log) cfg.access_log = "";
  cfg.listener_extra = "    http2: { cleartext: true }\n";
  cfg.routes =
      "      - name: plain\n        match: { path_prefix: /plain }\n        cluster: app\n"
      "      - name: shop\n        match: { path_prefix: / }\n        cluster: app\n"
      "        compression: " +
      compression + "\n";
  return cfg.yaml();
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

TEST(Compression, CurlDecodesGzipAndBrotliByteForByteOnBothProtocols) {
  TestBackend app(shopBackend);
  ProxyProcess proxy(compressionConfig(app, "{ content_types: [text/html, application/json] }"));
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  TempDir dir;
  const std::string expected = dir.path() + "/expected";
  std::ofstream(expected, std::ios::binary) << kPage;
  const std::string base = "http://127.0.0.1:" + std::to_string(proxy.port());

  struct Case {
    std::string flags, path, accept, encoding;
  };
  const std::vector<Case> cases = {
      {"--http1.1", "/page", "", "br"},  // curl's own list: deflate, gzip, br, zstd
      {"--http1.1", "/page", "gzip", "gzip"},
      {"--http1.1", "/chunked", "br;q=0.1, gzip", "gzip"},
      {"--http1.1", "/chunked", "br", "br"},
      {"--http2-prior-knowledge", "/page", "gzip", "gzip"},
      {"--http2-prior-knowledge", "/page", "br", "br"},
      {"--http2-prior-knowledge", "/chunked", "", "br"},
  };
  uint64_t coded_bytes = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.flags + " " + c.path + " " + c.accept);
    const std::string body = dir.path() + "/body", head = dir.path() + "/head";
    // One request per curl (Debian's curl breaks a reused h2c prior-knowledge connection).
    std::string out;
    ASSERT_EQ(runShell("curl -sS --compressed " + c.flags +
                           (c.accept.empty() ? "" : " -H 'Accept-Encoding: " + c.accept + "'") +
                           " -D " + head + " -o " + body + " " + base + c.path,
                       &out),
              0)
        << out;
    std::string headers;
    runShell("cat " + head, &headers);
    headers = lower(headers);
    EXPECT_NE(headers.find("content-encoding: " + c.encoding + "\r\n"), std::string::npos)
        << headers;
    EXPECT_NE(headers.find("vary: accept-encoding\r\n"), std::string::npos) << headers;
    EXPECT_EQ(headers.find("content-length"), std::string::npos) << headers;
    EXPECT_EQ(runShell("cmp " + expected + " " + body, &out), 0) << out;
    // What crossed the wire is the coded body: fetch it raw and see it is much smaller.
    std::string size;
    ASSERT_EQ(runShell("curl -sS " + c.flags + " -H 'Accept-Encoding: " + c.encoding +
                           "' -o /dev/null -w '%{size_download}' " + base + c.path,
                       &size),
              0);
    EXPECT_LT(std::stoull(size), kPage.size() / 4) << size;
    coded_bytes += std::stoull(size);
  }

  // The counters: every coded body once per curl call above, twice per case.
  AdminClient admin(proxy.adminPort());
  auto stats = admin.get("/v1/stats");
  ASSERT_EQ(stats.status, 200) << stats.text;
  const nlohmann::json& c = stats.body["routes"]["shop"]["compression"];
  ASSERT_TRUE(c.is_object()) << stats.text;
  EXPECT_EQ(c["gzip"].get<uint64_t>() + c["br"].get<uint64_t>(), 2 * cases.size()) << c;
  EXPECT_EQ(c["gzip"].get<uint64_t>(), 2u * 3) << c;
  EXPECT_EQ(c["bytes_in"].get<uint64_t>(), 2 * cases.size() * kPage.size()) << c;
  EXPECT_GT(c["bytes_out"].get<uint64_t>(), coded_bytes) << c;  // the decoded calls' too
  EXPECT_FALSE(stats.body["routes"]["plain"].contains("compression"));
  auto metrics = admin.call("GET", "/metrics");
  EXPECT_NE(metrics.text.find("lbproxy_route_compressed_responses_total{encoding=\"gzip\","
                              "route=\"shop\"} 6"),
            std::string::npos)
      << metrics.text.substr(0, 4000);
}

std::optional<ClientResponse> get(uint16_t port, const std::string& target,
                                  const std::string& extra, const std::string& method = "GET") {
  TestClient c(port);
  if (!c.send(method + " " + target + " HTTP/1.1\r\nHost: shop.test\r\n" + extra + "\r\n"))
    return std::nullopt;
  return c.read(method == "HEAD");
}

TEST(Compression, WhatIsLeftAloneAndTheCodedHead) {
  TestBackend app(shopBackend);
  ProxyProcess proxy(compressionConfig(app, "{ encodings: [gzip], min_size: 1KiB }", true));
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  const std::string gzip = "Accept-Encoding: gzip\r\n";
  const uint16_t port = proxy.port();

  // Coded: a weak ETag (the bytes differ from the identity's), Vary kept and extended.
  auto r = get(port, "/page.etag", gzip);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(*r->header("content-encoding"), "gzip");
  EXPECT_TRUE(r->chunked);
  EXPECT_EQ(*r->header("etag"), "W/\"v7\"");
  EXPECT_EQ(*r->header("vary"), "Cookie, Accept-Encoding");
  EXPECT_LT(r->body.size(), kPage.size() / 4);
  // The access log says which route and which coding; bytes_out is what went on the wire.
  auto log = proxy.waitAccessLog(1);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(jsonField(log[0], "route"), "shop") << log[0];
  EXPECT_EQ(jsonField(log[0], "encoding"), "gzip") << log[0];
  EXPECT_LT(std::stoull(jsonField(log[0], "bytes_out")), kPage.size() / 4) << log[0];

  // A client that accepts no coding gets the identity body, still marked as varying.
  r = get(port, "/page", "");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->header("content-encoding"));
  EXPECT_EQ(*r->header("vary"), "Accept-Encoding");
  EXPECT_EQ(*r->header("content-length"), std::to_string(kPage.size()));
  EXPECT_EQ(r->body, kPage);
  r = get(port, "/page", "Accept-Encoding: gzip;q=0, br\r\n");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->header("content-encoding"));
  EXPECT_EQ(r->body, kPage);
  log = proxy.waitAccessLog(3);
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(jsonField(log[2], "encoding"), "") << log[2];

  // Left alone, and not marked: too small, not a listed type, coded already by the backend,
  // no-transform, a HEAD, an error of an unlisted type, and a route without compression.
  for (const char* path : {"/small", "/image", "/coded", "/keep", "/missing", "/plain/page"}) {
    SCOPED_TRACE(path);
    r = get(port, path, gzip);
    ASSERT_TRUE(r);
    const std::string* encoding = r->header("content-encoding");
    EXPECT_TRUE(!encoding || *encoding == "zstd");
    EXPECT_FALSE(r->header("vary"));
    EXPECT_TRUE(r->header("content-length"));
  }
  r = get(port, "/page", gzip, "HEAD");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->header("content-encoding"));
  EXPECT_EQ(*r->header("content-length"), std::to_string(kPage.size()));
  // An HTTP/1.0 client gets the coded body delimited by the close.
  TestClient old(port);
  ASSERT_TRUE(old.send("GET /page HTTP/1.0\r\nHost: shop.test\r\nAccept-Encoding: gzip\r\n\r\n"));
  r = old.read(false);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r->header("content-encoding"), "gzip");
  EXPECT_FALSE(r->chunked);
  EXPECT_TRUE(r->complete);
  EXPECT_LT(r->body.size(), kPage.size() / 4);
}

// Inflates a gzip stream as it arrives, checking it against the backend's pattern.
class GunzipChecker {
 public:
  GunzipChecker() { ok_ = inflateInit2(&z_, 16 + 15) == Z_OK; }
  ~GunzipChecker() { inflateEnd(&z_); }
  void feed(std::string_view in) {
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    while (ok_ && z_.avail_in > 0 && !ended_) {
      char buf[65536];
      z_.next_out = reinterpret_cast<Bytef*>(buf);
      z_.avail_out = sizeof(buf);
      const int rc = inflate(&z_, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END) ok_ = false;
      const size_t n = sizeof(buf) - z_.avail_out;
      for (size_t i = 0; i < n && ok_; i += 997) ok_ = buf[i] == patternByte(decoded_ + i);
      decoded_ += n;
      if (rc == Z_STREAM_END) ended_ = true;
    }
  }
  bool ok() const { return ok_; }
  bool ended() const { return ended_; }
  uint64_t decoded() const { return decoded_; }

 private:
  z_stream z_{};
  bool ok_ = false;
  bool ended_ = false;
  uint64_t decoded_ = 0;
};

TEST(Compression, AQuarterGiBBodyStreamsThroughTheCoderInBoundedMemory) {
  constexpr uint64_t kSize = uint64_t{256} << 20;
  TestBackend app([](const BackendRequest& req, BackendConnection& conn) {
    if (req.target == "/warm") {
      conn.write(simpleResponse(200, std::string(4096, 'w'), "Content-Type: text/plain\r\n"));
      return;
    }
    conn.write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
               std::to_string(kSize) + "\r\n\r\n");
    writePatternBody(conn, kSize);
  });
  ProxyProcess proxy(compressionConfig(app, "{ encodings: [gzip] }"));
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(get(proxy.port(), "/warm", "Accept-Encoding: gzip\r\n"));
  const long baseline = proxy.process().peakRssKiB();

  TestClient c(proxy.port());
  c.setReceiveBuffer(64 * 1024);
  ASSERT_TRUE(c.send("GET /big HTTP/1.1\r\nHost: shop.test\r\nAccept-Encoding: gzip\r\n\r\n"));
  GunzipChecker gunzip;
  auto resp = c.read(false, 300s, [&](std::string_view data) { gunzip.feed(data); });
  ASSERT_TRUE(resp);
  EXPECT_EQ(*resp->header("content-encoding"), "gzip");
  EXPECT_TRUE(resp->complete);
  EXPECT_TRUE(gunzip.ok());
  EXPECT_TRUE(gunzip.ended());
  EXPECT_EQ(gunzip.decoded(), kSize);
  const long peak = proxy.process().peakRssKiB();
  std::printf(
      "[ measure ] 256 MiB gzip-coded: %llu bytes on the wire, lbproxy peak RSS growth %ld "
      "KiB\n",
      static_cast<unsigned long long>(resp->body_bytes), peak - baseline);
  if (kCheckRss) {
    EXPECT_LT(peak - baseline, 16 * 1024);
  }
}

}  // namespace
}  // namespace lb::test
