// What the proxy writes is rebuilt from parsed fields; the parser reads it back the same.
#include "proxy/http/http1_encoder.h"

#include <gtest/gtest.h>

#include "proxy/http/error_response.h"
#include "proxy/http/http1_parser.h"
#include "proxy/http/upgrade.h"

namespace lb::http {
namespace {

RequestHead parseRequest(const std::string& wire) {
  Http1HeadParser p(Http1HeadParser::Kind::kRequest, {});
  p.reset();
  auto r = p.feed(wire.data(), wire.size());
  EXPECT_EQ(r.status, Http1HeadParser::Status::kDone) << wire << r.error.detail;
  return p.request();
}

TEST(Http1Encoder, UpstreamRequestDropsHopByHopAndRedeclaresFraming) {
  RequestHead req = parseRequest(
      "POST http://shop.example.com/cart?x=1 HTTP/1.1\r\n"
      "Host: shop.example.com\r\n"
      "Connection: keep-alive, X-Hop\r\n"
      "X-Hop: secret\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nUpgrade: websocket\r\n"
      "Proxy-Connection: keep-alive\r\n"
      "Transfer-Encoding: chunked\r\n"
      "X-Forwarded-For: 10.0.0.1\r\n"
      "X-Request-Id: spoofed\r\n"
      "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
      "Expect: 100-continue\r\n"
      "\r\n");
  std::string out;
  encodeUpstreamRequest(req, {"192.0.2.7", "rid-1", "http", "", ""}, &out);

  EXPECT_EQ(out.rfind("POST /cart?x=1 HTTP/1.1\r\nHost: shop.example.com\r\n", 0), 0u) << out;
  for (const char* gone : {"X-Hop", "Keep-Alive", "TE:", "Upgrade", "Proxy-Connection",
                           "Connection:", "spoofed", "Expect"})
    EXPECT_EQ(out.find(gone), std::string::npos) << gone << " in\n" << out;
  EXPECT_NE(out.find("X-Forwarded-For: 10.0.0.1, 192.0.2.7\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("X-Forwarded-Proto: http\r\n"), std::string::npos);
  EXPECT_NE(out.find("X-Forwarded-Host: shop.example.com\r\n"), std::string::npos);
  EXPECT_NE(out.find("X-Request-Id: rid-1\r\n"), std::string::npos);
  EXPECT_NE(out.find("traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"),
            std::string::npos);
  EXPECT_NE(out.find("Transfer-Encoding: chunked\r\n"), std::string::npos);

  // What we send must itself parse cleanly.
  RequestHead back = parseRequest(out);
  EXPECT_EQ(back.framing, BodyFraming::kChunked);
  EXPECT_EQ(back.authority, "shop.example.com");
}

TEST(Http1Encoder, ClientResponseFraming) {
  ResponseHead resp;
  resp.status = 200;
  resp.reason = "OK";
  resp.headers = {{"Content-Length", "5"}, {"X-Instance", "app-1"}, {"Keep-Alive", "timeout=5"}};
  resp.content_length = 5;

  std::string chunked;
  encodeClientResponse(resp, BodyFraming::kChunked, false, "", "", &chunked);
  EXPECT_EQ(chunked, "HTTP/1.1 200 OK\r\nX-Instance: app-1\r\nTransfer-Encoding: chunked\r\n\r\n");

  std::string cl;
  encodeClientResponse(resp, BodyFraming::kContentLength, false, "close", "rid-7", &cl);
  EXPECT_EQ(cl,
            "HTTP/1.1 200 OK\r\nX-Instance: app-1\r\nContent-Length: 5\r\nX-Request-Id: rid-7\r\n"
            "Connection: close\r\n\r\n");

  std::string head;
  encodeClientResponse(resp, BodyFraming::kNone, true, "", "", &head);
  EXPECT_EQ(head, "HTTP/1.1 200 OK\r\nX-Instance: app-1\r\nContent-Length: 5\r\n\r\n");

  ResponseHead no_content;
  no_content.status = 204;
  std::string nc;
  encodeClientResponse(no_content, BodyFraming::kNone, false, "", "", &nc);
  EXPECT_EQ(nc, "HTTP/1.1 204 No Content\r\n\r\n");
}

TEST(Http1Encoder, UpgradeIsTheOnlyHopByHopFieldForwarded) {
  RequestHead req = parseRequest(
      "GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, X-Hop\r\nUpgrade: websocket\r\n"
      "X-Hop: 1\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
  std::string out;
  encodeUpstreamRequest(req, {"192.0.2.7", "rid-1", "http", "websocket", ""}, &out);
  EXPECT_NE(out.find("\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"), std::string::npos)
      << out;
  EXPECT_NE(out.find("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"), std::string::npos);
  EXPECT_EQ(out.find("X-Hop"), std::string::npos) << out;

  ResponseHead resp;
  resp.status = 101;
  resp.headers = {{"Upgrade", "websocket"},
                  {"Connection", "Upgrade"},
                  {"Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}};
  std::string head;
  encodeClientResponse(resp, BodyFraming::kNone, false, "upgrade", "rid-1", &head);
  EXPECT_EQ(
      head,
      "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
      "Upgrade: websocket\r\nX-Request-Id: rid-1\r\nConnection: upgrade\r\n\r\n");
}

TEST(Http1Encoder, SelectUpgradeKeepsWhatTheRouteAllows) {
  std::string out;
  EXPECT_TRUE(selectUpgrade("WebSocket", {"websocket"}, &out));
  EXPECT_EQ(out, "WebSocket");
  EXPECT_TRUE(selectUpgrade("h2c, websocket , foo/2", {"websocket", "foo"}, &out));
  EXPECT_EQ(out, "websocket, foo/2");
  EXPECT_FALSE(selectUpgrade("h2c", {"websocket"}, &out));
  EXPECT_EQ(out, "");
  EXPECT_FALSE(selectUpgrade("websocket", {}, &out));
  EXPECT_FALSE(selectUpgrade(", /2", {"websocket"}, &out));
}

TEST(Http1Encoder, ErrorResponseCarriesStatusRequestIdAndLength) {
  ErrorResponse error = makeErrorResponse(504, "upstream timeout", "rid-9");
  std::string out;
  encodeClientResponse(error.head, error.head.framing, false, "close", "rid-9", &out);
  out += error.body;
  size_t body_at = out.find("\r\n\r\n") + 4;
  std::string body = out.substr(body_at);
  EXPECT_EQ(out.rfind("HTTP/1.1 504 Gateway Timeout\r\n", 0), 0u);
  EXPECT_NE(out.find("Content-Length: " + std::to_string(body.size()) + "\r\n"), std::string::npos);
  EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos);
  EXPECT_NE(body.find("rid-9"), std::string::npos);
  EXPECT_NE(body.find("upstream timeout"), std::string::npos);
  EXPECT_EQ(body, "504 Gateway Timeout: upstream timeout\nrequest-id: rid-9\n");
  EXPECT_NE(out.find("X-Request-Id: rid-9\r\n"), std::string::npos);
  EXPECT_NE(out.find("Content-Type: text/plain; charset=utf-8\r\n"), std::string::npos);
}

TEST(Http1Encoder, ChunkHeaderIsHex) {
  std::string out;
  appendChunkHeader(255, &out);
  EXPECT_EQ(out, "ff\r\n");
}

}  // namespace
}  // namespace lb::http
