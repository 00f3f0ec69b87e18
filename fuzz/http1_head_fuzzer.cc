// libFuzzer target: the HTTP/1.1 head parser, requests and responses (input byte 0 picks,
// byte 1 seeds how the bytes are split). Checks beyond "no crash": the same verdict and the
// same head whether the bytes come at once or in pieces; a head it accepts, rebuilt by the
// encoder, parses again to the same method, path, authority, status and framing (what the
// proxy forwards is something it would accept itself).
#include <cstdlib>
#include <string>

#include "fuzz/fuzz_input.h"
#include "proxy/http/http1_encoder.h"
#include "proxy/http/http1_parser.h"

namespace {

using lb::http::BodyFraming;
using lb::http::Http1HeadParser;

#define CHECK(cond)            \
  do {                         \
    if (!(cond)) std::abort(); \
  } while (0)

struct Outcome {
  Http1HeadParser::Status status;
  size_t consumed = 0;
};

Outcome feedAll(Http1HeadParser& p, const char* data, size_t len,
                const std::vector<size_t>& pieces) {
  Outcome out{Http1HeadParser::Status::kNeedMore, 0};
  size_t at = 0;
  for (size_t n : pieces) {
    // Like a connection: unconsumed bytes are offered again with the next piece.
    Http1HeadParser::Result r = p.feed(data + out.consumed, at + n - out.consumed);
    CHECK(r.consumed <= at + n - out.consumed);
    out.consumed += r.consumed;
    at += n;
    out.status = r.status;
    if (r.status != Http1HeadParser::Status::kNeedMore) break;
  }
  (void)len;
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* raw, size_t size) {
  if (size < 2) return 0;
  const bool request = raw[0] & 1;
  const auto kind = request ? Http1HeadParser::Kind::kRequest : Http1HeadParser::Kind::kResponse;
  const char* data = reinterpret_cast<const char*>(raw + 2);
  const size_t len = size - 2;

  Http1HeadParser whole(kind, {});
  Outcome a = feedAll(whole, data, len, {len});
  Http1HeadParser split(kind, {});
  Outcome b = feedAll(split, data, len, lb::fuzz::pieceSizes(raw[1], len));
  CHECK(a.status == b.status);
  if (a.status != Http1HeadParser::Status::kDone) return 0;
  CHECK(a.consumed == b.consumed);

  if (request) {
    const lb::http::RequestHead& r1 = whole.request();
    CHECK(r1.method == split.request().method && r1.path == split.request().path);
    CHECK(!r1.path.empty() && (r1.path[0] == '/' || r1.path == "*"));
    // An HTTP/1.0 request may come without Host; it goes upstream without one (a strict
    // backend answers it 400), so there is nothing to parse back the same.
    if (r1.authority.empty()) return 0;
    std::string wire;
    lb::http::ForwardContext ctx;
    ctx.client_ip = "192.0.2.1";
    ctx.request_id = "fuzz";
    ctx.upgrade = r1.upgrade.empty() ? "" : "websocket";
    lb::http::encodeUpstreamRequest(r1, ctx, &wire);
    Http1HeadParser again(kind, {1 << 20, 1 << 20, 10000});
    Http1HeadParser::Result r = again.feed(wire.data(), wire.size());
    CHECK(r.status == Http1HeadParser::Status::kDone);
    CHECK(r.consumed == wire.size());
    const lb::http::RequestHead& r2 = again.request();
    CHECK(r2.method == r1.method && r2.path == r1.path);
    CHECK(r2.authority == r1.authority);
    CHECK(r2.framing == r1.framing ||
          (r1.framing == BodyFraming::kNone && r2.framing == BodyFraming::kNone));
    if (r1.framing == BodyFraming::kContentLength) CHECK(r2.content_length == r1.content_length);
  } else {
    const lb::http::ResponseHead& s1 = whole.response();
    CHECK(s1.status == split.response().status && s1.framing == split.response().framing);
    std::string wire;
    lb::http::encodeClientResponse(s1, s1.framing, false, "", "fuzz", &wire);
    Http1HeadParser again(kind, {1 << 20, 1 << 20, 10000});
    Http1HeadParser::Result r = again.feed(wire.data(), wire.size());
    CHECK(r.status == Http1HeadParser::Status::kDone);
    CHECK(again.response().status == s1.status);
  }
  return 0;
}
