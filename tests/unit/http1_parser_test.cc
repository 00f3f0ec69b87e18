// The head parser fed whole, one byte at a time and in random splits must agree, and must
// refuse every framing trick llhttp 8.1.0 lets through on its own.
#include "proxy/http/http1_parser.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace lb::http {
namespace {

enum class Split { kWhole, kByteByByte, kRandom };

struct Parsed {
  Http1HeadParser::Status status = Http1HeadParser::Status::kNeedMore;
  size_t head_bytes = 0;  // bytes of the input that made up the head
  Error error;
  RequestHead request;
  ResponseHead response;
};

Parsed parse(Http1HeadParser::Kind kind, const std::string& input, Split split, uint32_t seed = 1,
             HeadLimits limits = {}, bool response_to_head = false) {
  Http1HeadParser parser(kind, limits);
  parser.reset(response_to_head);
  std::mt19937 rng(seed);
  Parsed out;
  size_t pos = 0;
  while (pos < input.size()) {
    size_t n = input.size() - pos;
    if (split == Split::kByteByByte) n = 1;
    if (split == Split::kRandom) n = std::min(n, size_t{1} + rng() % 17);
    auto r = parser.feed(input.data() + pos, n);
    out.status = r.status;
    pos += r.consumed;
    if (r.status == Http1HeadParser::Status::kError) {
      out.error = r.error;
      return out;
    }
    if (r.status == Http1HeadParser::Status::kDone) break;
  }
  out.head_bytes = pos;
  out.request = parser.request();
  out.response = parser.response();
  return out;
}

// Runs every split strategy and checks they agree before returning the whole-input result.
Parsed parseAllWays(Http1HeadParser::Kind kind, const std::string& input, HeadLimits limits = {},
                    bool response_to_head = false) {
  Parsed whole = parse(kind, input, Split::kWhole, 1, limits, response_to_head);
  std::vector<Parsed> others;
  others.push_back(parse(kind, input, Split::kByteByByte, 1, limits, response_to_head));
  for (uint32_t seed = 1; seed <= 20; ++seed)
    others.push_back(parse(kind, input, Split::kRandom, seed, limits, response_to_head));
  for (const Parsed& p : others) {
    EXPECT_EQ(p.status, whole.status) << input;
    EXPECT_EQ(p.error.code, whole.error.code) << input;
    if (whole.status == Http1HeadParser::Status::kDone) {
      EXPECT_EQ(p.head_bytes, whole.head_bytes);
      EXPECT_EQ(p.request.method, whole.request.method);
      EXPECT_EQ(p.request.path, whole.request.path);
      EXPECT_EQ(p.request.headers.size(), whole.request.headers.size());
      EXPECT_EQ(p.request.framing, whole.request.framing);
      EXPECT_EQ(p.request.content_length, whole.request.content_length);
      EXPECT_EQ(p.response.status, whole.response.status);
      EXPECT_EQ(p.response.framing, whole.response.framing);
    }
  }
  return whole;
}

Parsed request(const std::string& input, HeadLimits limits = {}) {
  return parseAllWays(Http1HeadParser::Kind::kRequest, input, limits);
}
Parsed response(const std::string& input, bool to_head = false) {
  return parseAllWays(Http1HeadParser::Kind::kResponse, input, {}, to_head);
}

void expectRejected(const std::string& input, ErrorCode code = ErrorCode::kBadRequest) {
  Parsed p = request(input);
  EXPECT_EQ(p.status, Http1HeadParser::Status::kError) << testing::PrintToString(input);
  EXPECT_EQ(p.error.code, code) << testing::PrintToString(input) << " why: " << p.error.detail;
}

TEST(Http1Parser, SimpleGetStopsRightAfterTheHead) {
  std::string head = "GET /a/b?q=1 HTTP/1.1\r\nHost: shop.example.com\r\nX-A:  v  \r\n\r\n";
  Parsed p = request(head + "NEXT REQUEST BYTES");
  ASSERT_EQ(p.status, Http1HeadParser::Status::kDone);
  EXPECT_EQ(p.head_bytes, head.size());
  EXPECT_EQ(p.request.method, "GET");
  EXPECT_EQ(p.request.path, "/a/b?q=1");
  EXPECT_EQ(p.request.authority, "shop.example.com");
  ASSERT_EQ(p.request.headers.size(), 2u);
  EXPECT_EQ(p.request.headers[1].name, "X-A");
  EXPECT_EQ(p.request.headers[1].value, "v");
  EXPECT_EQ(p.request.framing, BodyFraming::kNone);
  EXPECT_TRUE(p.request.keep_alive);
}

TEST(Http1Parser, ContentLengthAndChunkedFraming) {
  Parsed cl = request("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n");
  ASSERT_EQ(cl.status, Http1HeadParser::Status::kDone);
  EXPECT_EQ(cl.request.framing, BodyFraming::kContentLength);
  EXPECT_EQ(cl.request.content_length, 42u);

  Parsed ch = request("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
  ASSERT_EQ(ch.status, Http1HeadParser::Status::kDone);
  EXPECT_EQ(ch.request.framing, BodyFraming::kChunked);
}

TEST(Http1Parser, ConnectionCloseAndHttp10Defaults) {
  Parsed close = request("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  ASSERT_EQ(close.status, Http1HeadParser::Status::kDone);
  EXPECT_FALSE(close.request.keep_alive);

  Parsed http10 = request("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(http10.status, Http1HeadParser::Status::kDone);
  EXPECT_FALSE(http10.request.keep_alive);
  EXPECT_EQ(http10.request.version_minor, 0);

  Parsed ka10 = request("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  ASSERT_EQ(ka10.status, Http1HeadParser::Status::kDone);
  EXPECT_TRUE(ka10.request.keep_alive);
}

TEST(Http1Parser, AbsoluteFormTargetGivesAuthorityAndOriginPath) {
  Parsed p = request("GET http://api.example.com:8080/v1/x?y HTTP/1.1\r\nHost: other\r\n\r\n");
  ASSERT_EQ(p.status, Http1HeadParser::Status::kDone);
  EXPECT_EQ(p.request.authority, "api.example.com:8080");
  EXPECT_EQ(p.request.path, "/v1/x?y");
}

TEST(Http1Parser, ExpectContinue) {
  Parsed p =
      request("PUT /u HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  ASSERT_EQ(p.status, Http1HeadParser::Status::kDone);
  EXPECT_TRUE(p.request.expect_continue);
}

TEST(Http1Parser, UpgradeCountsOnlyWhenConnectionNamesIt) {
  Parsed ws = request(
      "GET /chat HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n"
      "Upgrade: websocket\r\nUpgrade: foo/2\r\n\r\n");
  ASSERT_EQ(ws.status, Http1HeadParser::Status::kDone);
  EXPECT_EQ(ws.request.upgrade, "websocket, foo/2");

  // Without the Connection token the field is not an upgrade request (RFC 9110 7.8).
  Parsed bare = request("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n");
  ASSERT_EQ(bare.status, Http1HeadParser::Status::kDone);
  EXPECT_EQ(bare.request.upgrade, "");

  // HTTP/1.0 has no Upgrade.
  Parsed http10 = request("GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n");
  ASSERT_EQ(http10.status, Http1HeadParser::Status::kDone);
  EXPECT_EQ(http10.request.upgrade, "");
}

// What llhttp 8.1.0 accepts and we must not (../shared/corpus/README.md), one case each.
TEST(Http1Parser, RejectsObsFold) {
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n");
}
TEST(Http1Parser, RejectsBareCrInValue) {
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX: \rxTransfer-Encoding: chunked\r\n\r\n");
}
TEST(Http1Parser, RejectsBareLf) { expectRejected("GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n"); }
TEST(Http1Parser, RejectsNulInValue) {
  expectRejected(std::string("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 34));
}
TEST(Http1Parser, RejectsControlCharInValue) {
  expectRejected(
      "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01"
      "b\r\n\r\n");
}
TEST(Http1Parser, RejectsEmptyHeaderName) {
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\n: a\r\n\r\n");
}
TEST(Http1Parser, RejectsWhitespaceBeforeColon) {
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 1\r\n\r\n");
}
TEST(Http1Parser, DropsFragmentFromTarget) {
  // llhttp passes '#' through; we never forward it, and route on what we forward.
  Parsed p = request("GET /a?q=1#frag HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_EQ(p.status, Http1HeadParser::Status::kDone);
  EXPECT_EQ(p.request.path, "/a?q=1");
  expectRejected("GET #only HTTP/1.1\r\nHost: a\r\n\r\n");
}
TEST(Http1Parser, RawUtf8PathPassesControlsDoNot) {
  Parsed p = request("GET /\xd1\x81\xd1\x82 HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_EQ(p.status, Http1HeadParser::Status::kDone);
  EXPECT_EQ(p.request.path, "/\xd1\x81\xd1\x82");
}
TEST(Http1Parser, RequestTargetGrammar) {
  // RFC 3986 pchar, '/' and '?', sub-delims, pct-encoding; and what browsers send unescaped.
  for (const char* ok :
       {"/a/b;c=d/e:f@g!$&'()*+,~-._", "/%41%2f%aB", "/a?b=c&d=/?x", "/filter[name]|x", "/s?q={x}",
        "/s?q=[1]^`\\|{}", "/s?off=10%", "//double"}) {
    const std::string target = ok;
    Parsed p = request("GET " + target + " HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(p.status, Http1HeadParser::Status::kDone) << target << ": " << p.error.detail;
    EXPECT_EQ(p.request.path, target);
  }
  for (const char* bad : {"/a\"b", "/a<b", "/a>b", "/a\\b", "/a^b", "/a`b", "/a{b", "/a}b",
                          "/s?q=\"x\"", "/s?q=<x>", "/%zz", "/a%4", "/a%", "/x%G1?y"}) {
    Parsed p = request(std::string("GET ") + bad + " HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(p.status, Http1HeadParser::Status::kError) << bad;
    EXPECT_EQ(p.error.code, ErrorCode::kBadRequest) << bad;
  }
  // The path of an absolute-form target is held to the same rules.
  expectRejected("GET http://a/b<c HTTP/1.1\r\nHost: a\r\n\r\n");
  Parsed abs = request("GET http://a/b%20c?d HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_EQ(abs.status, Http1HeadParser::Status::kDone);
  EXPECT_EQ(abs.request.path, "/b%20c?d");
}

TEST(Http1Parser, RejectsHttp09AndHttp2RequestLines) {
  expectRejected("GET /\r\n\r\n");
  expectRejected("GET / HTTP/0.9\r\nHost: a\r\n\r\n");
  expectRejected("GET / HTTP/2.0\r\nHost: a\r\n\r\n");
}
TEST(Http1Parser, RejectsTransferEncodingOnHttp10) {
  expectRejected("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n");
}
TEST(Http1Parser, RejectsContentLengthWithTransferEncoding) {
  expectRejected(
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n");
  expectRejected(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n");
}
TEST(Http1Parser, RejectsDuplicateOrInvalidContentLength) {
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n");
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n");
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n");
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x3\r\n\r\n");
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n");
}
TEST(Http1Parser, TransferCodingsMustEndInOneChunked) {
  Parsed ch = request(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , \r\n"
      "Transfer-Encoding: Chunked;ext\r\n\r\n");
  ASSERT_EQ(ch.status, Http1HeadParser::Status::kDone);
  EXPECT_EQ(ch.request.framing, BodyFraming::kChunked);
  EXPECT_EQ(ch.request.transfer_codings, "");

  // A coding lbproxy does not decode, before the chunked: 501 (RFC 9112 6.1).
  expectRejected(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: GZIP , identity\r\n"
      "Transfer-Encoding: deflate;q=1, chunked;ext\r\n\r\n",
      ErrorCode::kNotImplemented);
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                 ErrorCode::kNotImplemented);
  // Responses keep theirs: the proxy declares them ahead of its own chunked.
  Parsed resp = response("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
  ASSERT_EQ(resp.status, Http1HeadParser::Status::kDone);
  EXPECT_EQ(resp.response.transfer_codings, "gzip");

  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n");
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n");
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n");
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n");
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ;x, chunked\r\n\r\n");
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n");
  expectRejected(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
      "chunked\r\n\r\n");
}
TEST(Http1Parser, RejectsMissingDuplicateOrInvalidHost) {
  expectRejected("GET / HTTP/1.1\r\n\r\n");
  expectRejected("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
  expectRejected("GET / HTTP/1.1\r\nHost: a b\r\n\r\n");
  expectRejected("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n");
}
TEST(Http1Parser, RejectsNamesThatMimicFramingFields) {
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer_Encoding: chunked\r\n\r\n");
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nContent__Length: 5\r\n\r\n");
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer---Encoding: chunked\r\n\r\n");
  Parsed fine = request("GET / HTTP/1.1\r\nHost: a\r\nX_Custom_Length: 5\r\n\r\n");
  EXPECT_EQ(fine.status, Http1HeadParser::Status::kDone);
}
TEST(Http1Parser, RejectsInvalidMethodAndTarget) {
  expectRejected("G(T / HTTP/1.1\r\nHost: a\r\n\r\n");
  expectRejected("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n");
  expectRejected("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n");
}

TEST(Http1Parser, LimitsGive414And431) {
  HeadLimits limits;
  limits.max_request_line = 64;
  limits.max_header_bytes = 256;
  limits.max_headers = 3;
  Parsed long_line =
      request("GET /" + std::string(100, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", limits);
  EXPECT_EQ(long_line.error.code, ErrorCode::kUriTooLong);

  Parsed big_head =
      request("GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(300, 'v') + "\r\n\r\n", limits);
  EXPECT_EQ(big_head.error.code, ErrorCode::kHeadersTooLarge);

  Parsed many = request("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits);
  EXPECT_EQ(many.error.code, ErrorCode::kHeadersTooLarge);

  Parsed fits = request("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", limits);
  EXPECT_EQ(fits.status, Http1HeadParser::Status::kDone);
}

// The scanner walks runs of ordinary bytes at once: limits must still hold to the byte, and
// the limit a byte-by-byte walk would break first is the one reported (all splits agree).
TEST(Http1Parser, LimitsHoldToTheByte) {
  HeadLimits limits;
  limits.max_request_line = 64;
  limits.max_header_bytes = 256;
  auto line = [](size_t len) {  // a request line of exactly `len` bytes, CRLF excluded
    std::string fixed = "GET / HTTP/1.1";
    return "GET /" + std::string(len - fixed.size(), 'a') + " HTTP/1.1";
  };
  EXPECT_EQ(request(line(64) + "\r\nHost: a\r\n\r\n", limits).status,
            Http1HeadParser::Status::kDone);
  EXPECT_EQ(request(line(65) + "\r\nHost: a\r\n\r\n", limits).error.code, ErrorCode::kUriTooLong);
  EXPECT_EQ(request(line(300) + "\r\nHost: a\r\n\r\n", limits).error.code, ErrorCode::kUriTooLong);

  const std::string start = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
  auto head = [&](size_t total) {  // a head of exactly `total` bytes
    return start + std::string(total - start.size() - 4, 'v') + "\r\n\r\n";
  };
  Parsed exact = request(head(256), limits);
  ASSERT_EQ(exact.status, Http1HeadParser::Status::kDone) << exact.error.detail;
  EXPECT_EQ(exact.head_bytes, 256u);
  EXPECT_EQ(request(head(257), limits).error.code, ErrorCode::kHeadersTooLarge);

  // The head limit below the line limit: the whole-head limit is what a long line breaks.
  limits.max_header_bytes = 40;
  EXPECT_EQ(request(line(50) + "\r\nHost: a\r\n\r\n", limits).error.code,
            ErrorCode::kHeadersTooLarge);
}

// NUL, a bare CR, a bare LF, another control or DEL anywhere in a long field line is found,
// wherever it falls in the 16-byte blocks the scanner reads at once; HTAB is fine.
TEST(Http1Parser, ForbiddenBytesAreFoundAtEveryOffset) {
  for (char bad : {'\0', '\r', '\n', '\x01', '\x1f', '\x7f'}) {
    for (size_t pos = 0; pos < 40; ++pos) {
      std::string value(40, 'v');
      value[pos] = bad;
      std::string head = "GET / HTTP/1.1\r\nHost: a\r\nX-Long: " + value + "\r\n\r\n";
      Parsed p = request(head);
      EXPECT_EQ(p.status, Http1HeadParser::Status::kError) << "byte " << int(bad) << " at " << pos;
    }
  }
  for (size_t pos = 0; pos < 40; ++pos) {
    std::string value(40, 'v');
    value[pos] = '\t';
    Parsed p = request("GET / HTTP/1.1\r\nHost: a\r\nX-Long: " + value + "\r\n\r\n");
    EXPECT_EQ(p.status, Http1HeadParser::Status::kDone) << "tab at " << pos;
  }
  // A control in a response's reason phrase is the upstream's fault.
  Parsed bad_reason = response("HTTP/1.1 200 O\x01K\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(bad_reason.status, Http1HeadParser::Status::kError);
  EXPECT_EQ(bad_reason.error.code, ErrorCode::kBadResponse);
}

TEST(Http1Parser, ResponseFraming) {
  Parsed cl = response("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
  ASSERT_EQ(cl.status, Http1HeadParser::Status::kDone);
  EXPECT_EQ(cl.response.status, 200);
  EXPECT_EQ(cl.response.framing, BodyFraming::kContentLength);

  Parsed chunked = response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(chunked.response.framing, BodyFraming::kChunked);

  Parsed until_close = response("HTTP/1.1 200 OK\r\n\r\n");
  EXPECT_EQ(until_close.response.framing, BodyFraming::kUntilClose);

  Parsed no_content = response("HTTP/1.1 204 No Content\r\n\r\n");
  EXPECT_EQ(no_content.response.framing, BodyFraming::kNone);

  Parsed not_modified = response("HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n");
  EXPECT_EQ(not_modified.response.framing, BodyFraming::kNone);

  Parsed head = response("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", /*to_head=*/true);
  EXPECT_EQ(head.response.framing, BodyFraming::kNone);
}

TEST(Http1Parser, BadResponsesAreUpstreamErrors) {
  for (std::string bad :
       {"HTTP/1.1 2x0 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", "XTTP/1.1 200 OK\r\n\r\n"}) {
    Parsed p = response(bad);
    EXPECT_EQ(p.status, Http1HeadParser::Status::kError) << bad;
    EXPECT_EQ(p.error.code, ErrorCode::kBadResponse) << bad;
    EXPECT_EQ(p.error.source, ErrorSource::kUpstream) << bad;
  }
}

TEST(Http1Parser, ResetParsesNextPipelinedRequest) {
  std::string two = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
  Http1HeadParser parser(Http1HeadParser::Kind::kRequest, {});
  parser.reset();
  auto r1 = parser.feed(two.data(), two.size());
  ASSERT_EQ(r1.status, Http1HeadParser::Status::kDone);
  EXPECT_EQ(parser.request().path, "/1");
  parser.reset();
  auto r2 = parser.feed(two.data() + r1.consumed, two.size() - r1.consumed);
  ASSERT_EQ(r2.status, Http1HeadParser::Status::kDone);
  EXPECT_EQ(parser.request().path, "/2");
  EXPECT_EQ(r1.consumed + r2.consumed, two.size());
}

// One parser serves a connection's heads one after another, reusing the fields' buffers:
// nothing of an earlier head may show in a later one.
TEST(Http1Parser, ReusedParserKeepsNothingOfTheLastHead) {
  Http1HeadParser parser(Http1HeadParser::Kind::kRequest, {});
  const std::string heads[] = {
      "GET /first/long/path/name HTTP/1.1\r\nHost: a.example\r\nX-Long-Name-One: "
      "a value well over fifteen bytes\r\nX-B:   padded value   \r\nX-C: 3\r\n\r\n",
      "POST /2 HTTP/1.1\r\nHost: b\r\nContent-Length: 0\r\n\r\n",
      "GET /third HTTP/1.1\r\nHost: c\r\nX-Long-Name-One:  v  \r\nX-New: "
      "another value over fifteen bytes\r\n\r\n",
  };
  const std::vector<std::vector<std::pair<std::string, std::string>>> want = {
      {{"Host", "a.example"},
       {"X-Long-Name-One", "a value well over fifteen bytes"},
       {"X-B", "padded value"},
       {"X-C", "3"}},
      {{"Host", "b"}, {"Content-Length", "0"}},
      {{"Host", "c"}, {"X-Long-Name-One", "v"}, {"X-New", "another value over fifteen bytes"}},
  };
  const std::string targets[] = {"/first/long/path/name", "/2", "/third"};
  for (size_t i = 0; i < 3; ++i) {
    parser.reset();
    auto r = parser.feed(heads[i].data(), heads[i].size());
    ASSERT_EQ(r.status, Http1HeadParser::Status::kDone) << i << ": " << r.error.detail;
    const RequestHead& req = parser.request();
    EXPECT_EQ(req.target, targets[i]);
    ASSERT_EQ(req.headers.size(), want[i].size()) << i;
    for (size_t f = 0; f < want[i].size(); ++f) {
      EXPECT_EQ(req.headers[f].name, want[i][f].first) << i;
      EXPECT_EQ(req.headers[f].value, want[i][f].second) << i;
    }
  }
}

TEST(Http1Parser, HopByHopIncludesConnectionListedFields) {
  Parsed p = request(
      "GET / HTTP/1.1\r\nHost: a\r\nConnection: X-Secret, keep-alive\r\nX-Secret: 1\r\n\r\n");
  ASSERT_EQ(p.status, Http1HeadParser::Status::kDone);
  EXPECT_TRUE(isHopByHop("x-secret", p.request.connection_tokens));
  EXPECT_TRUE(isHopByHop("Keep-Alive", p.request.connection_tokens));
  EXPECT_TRUE(isHopByHop("Transfer-Encoding", p.request.connection_tokens));
  EXPECT_TRUE(isHopByHop("Proxy-Connection", p.request.connection_tokens));
  EXPECT_FALSE(isHopByHop("X-Other", p.request.connection_tokens));
  const std::vector<std::string> none;
  for (const char* name :
       {"Connection", "keep-alive", "PROXY-CONNECTION", "te", "Transfer-Encoding", "Upgrade",
        "trailer", "Proxy-Authenticate", "proxy-authorization"})
    EXPECT_TRUE(isHopByHop(name, none)) << name;
  for (const char* name : {"tf", "upgradE2", "trailers", "connectioN-", "content-length", "x-te"})
    EXPECT_FALSE(isHopByHop(name, none)) << name;
}

}  // namespace
}  // namespace lb::http
