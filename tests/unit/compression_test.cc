// Response compression: which coding a client gets, which responses are coded and the head
// they go out with, and the streaming encoder decoded back by zlib and libbrotlidec.
#include <brotli/decode.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <random>
#include <string>

#include "config/model.h"
#include "proxy/compress/encoder.h"
#include "proxy/compress/policy.h"

namespace lb::compress {
namespace {

http::RequestHead request(std::vector<std::string> accept_encoding, std::string method = "GET") {
  http::RequestHead req;
  req.method = std::move(method);
  req.path = "/";
  for (auto& v : accept_encoding) req.headers.push_back({"Accept-Encoding", std::move(v)});
  return req;
}

Coding pick(std::vector<std::string> fields, std::vector<std::string> offered = {"br", "gzip"}) {
  return negotiate(request(std::move(fields)), offered);
}

TEST(CompressionNegotiation, QValuesWildcardsAndTies) {
  EXPECT_EQ(pick({}), Coding::kIdentity);
  EXPECT_EQ(pick({"gzip"}), Coding::kGzip);
  EXPECT_EQ(pick({"GZIP"}), Coding::kGzip);
  EXPECT_EQ(pick({"x-gzip"}), Coding::kGzip);
  // A tie goes to the route's order; a higher q wins whatever the order.
  EXPECT_EQ(pick({"gzip, deflate, br"}), Coding::kBrotli);
  EXPECT_EQ(pick({"gzip, br"}, {"gzip", "br"}), Coding::kGzip);
  EXPECT_EQ(pick({"br;q=0.5, gzip;q=0.8"}), Coding::kGzip);
  EXPECT_EQ(pick({"br ; q=1.000 , gzip;q=0.999"}), Coding::kBrotli);
  // q=0 refuses; "*" stands for every coding not named.
  EXPECT_EQ(pick({"br;q=0, gzip;q=0"}), Coding::kIdentity);
  EXPECT_EQ(pick({"*"}), Coding::kBrotli);
  EXPECT_EQ(pick({"*;q=0.1, br;q=0"}), Coding::kGzip);
  EXPECT_EQ(pick({"identity"}), Coding::kIdentity);
  EXPECT_EQ(pick({"deflate, zstd"}), Coding::kIdentity);
  // Only what the route offers.
  EXPECT_EQ(pick({"br"}, {"gzip"}), Coding::kIdentity);
  // Fields are combined; a malformed q is not acceptable.
  EXPECT_EQ(pick({"br;q=0", "gzip"}), Coding::kGzip);
  EXPECT_EQ(pick({"gzip;q=2, br;q=abc"}), Coding::kIdentity);
  EXPECT_EQ(pick({"gzip;q=0.5555"}), Coding::kIdentity);
  EXPECT_EQ(pick({" , ,gzip;level=1;q=0.3"}), Coding::kGzip);
}

http::ResponseHead response(int status, std::string type, uint64_t length) {
  http::ResponseHead resp;
  resp.status = status;
  if (!type.empty()) resp.headers.push_back({"Content-Type", std::move(type)});
  resp.framing = http::BodyFraming::kContentLength;
  resp.content_length = length;
  resp.headers.push_back({"Content-Length", std::to_string(length)});
  return resp;
}

TEST(CompressionPolicy, WhichResponsesAreCoded) {
  config::CompressionConfig cfg;
  cfg.enabled = true;
  cfg.content_types = {"text/*", "application/json"};
  const http::RequestHead gzip = request({"gzip"});
  auto coding = [&](const http::ResponseHead& resp, const http::RequestHead& req) {
    return decide(cfg, req, resp).coding;
  };
  EXPECT_EQ(coding(response(200, "text/html; charset=utf-8", 5000), gzip), Coding::kGzip);
  EXPECT_EQ(coding(response(404, "Application/JSON", 5000), gzip), Coding::kGzip);
  EXPECT_EQ(coding(response(200, "image/png", 5000), gzip), Coding::kIdentity);
  EXPECT_EQ(coding(response(200, "", 5000), gzip), Coding::kIdentity);
  EXPECT_EQ(coding(response(200, "textual/plain", 5000), gzip), Coding::kIdentity);
  // Too small; of unknown length (chunked) it is coded.
  EXPECT_EQ(coding(response(200, "text/plain", 1023), gzip), Coding::kIdentity);
  http::ResponseHead chunked = response(200, "text/plain", 0);
  chunked.framing = http::BodyFraming::kChunked;
  EXPECT_EQ(coding(chunked, gzip), Coding::kGzip);
  // Not a whole representation, or no body.
  EXPECT_EQ(coding(response(206, "text/plain", 5000), gzip), Coding::kIdentity);
  EXPECT_EQ(coding(response(304, "text/plain", 5000), gzip), Coding::kIdentity);
  EXPECT_EQ(coding(response(200, "text/plain", 5000), request({"gzip"}, "HEAD")),
            Coding::kIdentity);
  // Coded already, or the backend forbids it.
  http::ResponseHead coded = response(200, "text/plain", 5000);
  coded.headers.push_back({"Content-Encoding", "gzip"});
  EXPECT_EQ(coding(coded, request({"br"})), Coding::kIdentity);
  http::ResponseHead keep = response(200, "text/plain", 5000);
  keep.headers.push_back({"Cache-Control", "public, No-Transform, max-age=60"});
  EXPECT_EQ(coding(keep, gzip), Coding::kIdentity);
  http::ResponseHead cacheable = response(200, "text/plain", 5000);
  cacheable.headers.push_back({"Cache-Control", "max-age=60"});
  EXPECT_EQ(coding(cacheable, gzip), Coding::kGzip);
  // A client that takes no coding: identity, but the response varies by Accept-Encoding.
  const Decision d = decide(cfg, request({}), response(200, "text/plain", 5000));
  EXPECT_EQ(d.coding, Coding::kIdentity);
  EXPECT_TRUE(d.varies);
  EXPECT_FALSE(decide(cfg, request({}), response(200, "image/png", 5000)).varies);
  cfg.enabled = false;
  EXPECT_EQ(coding(response(200, "text/plain", 5000), gzip), Coding::kIdentity);
}

std::vector<std::string> valuesOf(const http::ResponseHead& resp, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& h : resp.headers)
    if (http::equalsIgnoreCase(h.name, name)) out.push_back(h.value);
  return out;
}

TEST(CompressionPolicy, TheCodedHead) {
  http::ResponseHead resp = response(200, "text/plain", 5000);
  resp.headers.push_back({"ETag", "\"v1\""});
  resp.headers.push_back({"Accept-Ranges", "bytes"});
  resp.headers.push_back({"Vary", "Cookie"});
  encodeHead(Coding::kBrotli, &resp);
  EXPECT_EQ(resp.framing, http::BodyFraming::kChunked);
  EXPECT_TRUE(valuesOf(resp, "content-length").empty());
  EXPECT_TRUE(valuesOf(resp, "accept-ranges").empty());
  EXPECT_EQ(valuesOf(resp, "content-encoding"), std::vector<std::string>{"br"});
  EXPECT_EQ(valuesOf(resp, "etag"), std::vector<std::string>{"W/\"v1\""});
  EXPECT_EQ(valuesOf(resp, "vary"), std::vector<std::string>{"Cookie, Accept-Encoding"});

  http::ResponseHead weak = response(200, "text/plain", 5000);
  weak.headers.push_back({"ETag", "W/\"v1\""});
  weak.headers.push_back({"vary", "accept-encoding"});
  encodeHead(Coding::kGzip, &weak);
  EXPECT_EQ(valuesOf(weak, "etag"), std::vector<std::string>{"W/\"v1\""});
  EXPECT_EQ(valuesOf(weak, "vary"), std::vector<std::string>{"accept-encoding"});

  http::ResponseHead any = response(200, "text/plain", 5000);
  any.headers.push_back({"Vary", "*"});
  addVary(&any);
  EXPECT_EQ(valuesOf(any, "vary"), std::vector<std::string>{"*"});
  http::ResponseHead none = response(200, "text/plain", 5000);
  addVary(&none);
  EXPECT_EQ(valuesOf(none, "vary"), std::vector<std::string>{"Accept-Encoding"});
}

std::string gunzip(const std::string& in) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 16 + 15), Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char buf[65536];
  int rc;
  do {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof(buf);
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof(buf) - z.avail_out);
  } while (rc == Z_OK);
  EXPECT_EQ(rc, Z_STREAM_END);
  EXPECT_EQ(z.avail_in, 0u);  // nothing after the trailer
  inflateEnd(&z);
  return out;
}

std::string unbrotli(const std::string& in) {
  BrotliDecoderState* s = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
  size_t avail_in = in.size();
  const auto* next_in = reinterpret_cast<const uint8_t*>(in.data());
  std::string out;
  BrotliDecoderResult rc;
  do {
    uint8_t buf[65536];
    size_t avail_out = sizeof(buf);
    uint8_t* next_out = buf;
    rc = BrotliDecoderDecompressStream(s, &avail_in, &next_in, &avail_out, &next_out, nullptr);
    out.append(reinterpret_cast<char*>(buf), sizeof(buf) - avail_out);
  } while (rc == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT);
  EXPECT_EQ(rc, BROTLI_DECODER_RESULT_SUCCESS);
  EXPECT_EQ(avail_in, 0u);
  BrotliDecoderDestroyInstance(s);
  return out;
}

// Text-like bytes: words from a small vocabulary, so that they compress as pages do.
std::string pageText(size_t size, uint32_t seed) {
  static const char* const kWords[] = {"<div class=\"item\">",
                                       "order",
                                       "status",
                                       "</div>\n",
                                       "price",
                                       "42.00",
                                       "shipped",
                                       "customer",
                                       "{\"id\":"};
  std::mt19937 rng(seed);
  std::string s;
  while (s.size() < size) s += kWords[rng() % (sizeof(kWords) / sizeof(kWords[0]))];
  s.resize(size);
  return s;
}

// Codes `body` in pieces of random sizes, as upstream reads would hand it on.
std::string codeInPieces(Encoder& e, const std::string& body, uint32_t seed,
                         size_t* largest_write) {
  std::mt19937 rng(seed);
  std::string out, piece;
  *largest_write = 0;
  for (size_t at = 0; at < body.size();) {
    const size_t n = std::min<size_t>(body.size() - at, 1 + rng() % 40000);
    piece.clear();
    EXPECT_TRUE(e.write(body.data() + at, n, &piece));
    *largest_write = std::max(*largest_write, piece.size());
    out += piece;
    at += n;
  }
  piece.clear();
  EXPECT_TRUE(e.finish(&piece));
  out += piece;
  return out;
}

TEST(CompressionEncoder, GzipAndBrotliDecodeToTheSameBytesInAnyPieces) {
  config::CompressionConfig cfg;
  const std::string body = pageText(3 << 20, 7);
  Encoder e;
  for (Coding coding : {Coding::kGzip, Coding::kBrotli}) {
    SCOPED_TRACE(std::string(codingName(coding)));
    for (uint64_t hint : {uint64_t{0}, uint64_t{body.size()}}) {
      ASSERT_TRUE(e.start(coding, cfg, hint));
      EXPECT_TRUE(e.active());
      size_t largest = 0;
      const std::string coded = codeInPieces(e, body, 11, &largest);
      EXPECT_FALSE(e.active());  // finish() gave the state back
      EXPECT_EQ(coding == Coding::kGzip ? gunzip(coded) : unbrotli(coded), body);
      EXPECT_LT(coded.size(), body.size() / 4);
      EXPECT_EQ(e.bytesIn(), body.size());
      EXPECT_EQ(e.bytesOut(), coded.size());
      // What one write hands on is bounded by the coder's block (brotli's window at most:
      // 256 KiB at the default of 18), not by the body.
      EXPECT_LT(largest, 256u * 1024);
    }
  }
}

TEST(CompressionEncoder, SmallAndEmptyBodiesAndReuse) {
  config::CompressionConfig cfg;
  cfg.gzip_level = 1;
  cfg.brotli_quality = 11;
  Encoder e;
  for (Coding coding : {Coding::kGzip, Coding::kBrotli}) {
    for (const std::string& body : {std::string(), std::string("x"), pageText(1500, 3)}) {
      ASSERT_TRUE(e.start(coding, cfg, body.size()));
      std::string coded;
      ASSERT_TRUE(e.write(body.data(), body.size(), &coded));
      ASSERT_TRUE(e.finish(&coded));
      EXPECT_EQ(coding == Coding::kGzip ? gunzip(coded) : unbrotli(coded), body);
    }
  }
  // A body cut short: release() and the next one starts clean.
  ASSERT_TRUE(e.start(Coding::kGzip, cfg, 0));
  std::string coded;
  ASSERT_TRUE(e.write("abc", 3, &coded));
  e.release();
  EXPECT_FALSE(e.active());
  EXPECT_FALSE(e.write("abc", 3, &coded));
  ASSERT_TRUE(e.start(Coding::kGzip, cfg, 0));
  coded.clear();
  ASSERT_TRUE(e.write("hello", 5, &coded));
  ASSERT_TRUE(e.finish(&coded));
  EXPECT_EQ(gunzip(coded), "hello");
}

}  // namespace
}  // namespace lb::compress
