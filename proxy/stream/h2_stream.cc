#include "proxy/stream/h2_stream.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "proxy/http/http1_parser.h"
#include "proxy/http/websocket_handshake.h"
#include "proxy/snapshot/snapshot.h"
#include "proxy/stream/h2_session.h"
#include "proxy/stream/worker_context.h"

namespace lb::stream {

using http::BodyFraming;
using http::ErrorCode;

namespace {

// RFC 9110 tchar, lower case only (HTTP/2 field names are lower case).
bool validName(std::string_view name) {
  if (name.empty()) return false;
  for (unsigned char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
    if (!ok || c == 0) return false;
  }
  return true;
}

// What an HTTP/1.1 field value may not contain (the request is re-sent as HTTP/1.1).
bool validValue(std::string_view value) {
  for (unsigned char c : value)
    if (c == '\r' || c == '\n' || c == 0) return false;
  return true;
}

bool isConnectionSpecific(std::string_view name) {
  return name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
         name == "transfer-encoding" || name == "upgrade";
}

}  // namespace

H2Stream::H2Stream(WorkerContext& worker)
    : worker_(worker), req_body_(worker.loop()), resp_body_(worker.loop()), request_(worker) {}

H2Stream::~H2Stream() = default;

void H2Stream::open(H2Session& session, int32_t id) {
  session_ = &session;
  id_ = id;
  s_.opened_at = worker_.loop().now();
  touch();
}

void H2Stream::reset() {
  request_.reset();
  idle_timer_.cancel();
  session_ = nullptr;
  id_ = 0;
  req_.clear();
  cookie_.clear();
  protocol_.clear();
  ws_key_.clear();
  header_bytes_ = 0;
  s_ = State{};
  view_.reset();  // a pooled stream pins no configuration
  req_body_.clear();
  resp_body_.clear();
}

void H2Stream::touch() {
  if (s_.tunnel) return;  // a tunnel's idle time is the route's tunnel_idle_timeout
  worker_.deadlines().start(idle_timer_, session_->listener().http2.stream_idle_timeout);
}

void H2Stream::onIdleTimer(void* arg) noexcept { static_cast<H2Stream*>(arg)->onIdleTimeout(); }

bool H2Stream::addHeader(std::string_view name, std::string_view value) {
  const auto& limits = session_->listener().limits;
  header_bytes_ += name.size() + value.size() + 32;  // RFC 9113 6.5.2 accounting
  if (header_bytes_ > limits.max_header_bytes || req_.headers.size() >= limits.max_headers ||
      !validValue(value)) {
    s_.head_refused = true;
    return false;
  }
  if (!name.empty() && name[0] == ':') {
    if (name == ":method")
      req_.method = value;
    else if (name == ":path")
      req_.path = value;
    else if (name == ":authority")
      req_.authority = value;
    else if (name == ":protocol")
      protocol_ = value;  // accepted by nghttp2 only since we sent ENABLE_CONNECT_PROTOCOL
    return true;          // :scheme; nghttp2 has already refused unknown or repeated pseudo-headers
  }
  if (!validName(name) || isConnectionSpecific(name)) {
    s_.head_refused = true;
    return false;
  }
  if (name == "te") return true;  // only "trailers" passes nghttp2; hop-by-hop anyway
  if (name == "cookie") {
    if (!cookie_.empty()) cookie_.append("; ");
    cookie_.append(value);
    return true;
  }
  if (name == "host") {
    if (req_.authority.empty()) req_.authority = value;
    return true;
  }
  if (name == "content-length") {
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || end != value.data() + value.size()) {
      s_.head_refused = true;
      return false;
    }
    req_.framing = BodyFraming::kContentLength;
    req_.content_length = n;
    return true;
  }
  req_.headers.push_back({std::string(name), std::string(value)});
  return true;
}

void H2Stream::headComplete(bool end_stream) {
  if (!cookie_.empty()) req_.headers.push_back({"cookie", cookie_});
  req_.target = req_.path;
  s_.end_stream = end_stream;
  if (req_.method == "CONNECT" && !protocol_.empty()) {
    // Its DATA is the tunnel's, once the backend switched; there is no request body.
    s_.extended_connect = true;
    req_.framing = BodyFraming::kNone;
    req_.content_length = 0;
  } else if (end_stream) {
    // No body at all; a declared length must then be 0 (nghttp2 checks it against DATA).
    req_.framing = BodyFraming::kNone;
    req_.content_length = 0;
  } else if (req_.framing != BodyFraming::kContentLength) {
    req_.framing = BodyFraming::kChunked;  // length unknown: chunked to the HTTP/1.1 upstream
  }
  request_.addBytesIn(header_bytes_);
}

void H2Stream::dispatch() {
  s_.dispatched = true;
  // A request takes the worker's newest view (the connection's listener may have moved), and
  // pins it for its life.
  view_ = session_->view();
  request_.begin(*this, req_, *view_, s_.opened_at);
  // The connection's output may be full already (other streams): this one starts held.
  if (backlog() >= kHighWater) {
    s_.above = true;
    request_.onAboveWriteHighWatermark();
  }
  if (s_.extended_connect && !req_.path.empty() && req_.path[0] == '/') toUpgradeRequest();
  if (req_.method == "CONNECT" || req_.path.empty() || req_.path[0] != '/') {
    request_.fail(
        http::clientError(ErrorCode::kBadRequest, "only origin-form requests are proxied"));
    return;
  }
  // The path goes into an HTTP/1.1 request line: the same grammar as an HTTP/1.1 client's.
  if (const size_t hash = req_.path.find('#'); hash != std::string::npos) {
    req_.path.resize(hash);
    req_.target = req_.path;
  }
  if (const char* why = http::checkPathAndQuery(req_.path)) {
    request_.fail(http::clientError(ErrorCode::kBadRequest, why));
    return;
  }
  request_.start(*view_, session_->listener(), session_->client(),
                 session_->origin().tls != nullptr);
}

void H2Stream::toUpgradeRequest() {
  // RFC 8441 5: the backend gets GET with Upgrade, and for WebSocket the key an HTTP/1.1
  // client would have sent (an HTTP/2 client sends none); its answer is checked against it.
  req_.method = "GET";
  req_.upgrade = protocol_;
  if (!http::equalsIgnoreCase(protocol_, "websocket")) return;
  std::erase_if(req_.headers, [](const http::Header& h) { return h.name == "sec-websocket-key"; });
  ws_key_ = http::newWebSocketKey();
  req_.headers.push_back({"sec-websocket-key", ws_key_});
}

void H2Stream::onData(const uint8_t* data, size_t len) {
  touch();
  request_.addBytesIn(len);
  s_.body_bytes += len;
  if (s_.dispatched && !request_.exchangeActive()) {
    // Answered already (an error, or an early response): the rest is not wanted, but its
    // bytes must still count as consumed or they would close the connection's window.
    session_->consume(id_, len);
    return;
  }
  req_body_.append(data, len);
  const uint64_t limit = s_.extended_connect ? 0 : session_->listener().max_body_bytes;
  if (limit && s_.body_bytes > limit) {
    request_.fail(http::clientError(ErrorCode::kBodyTooLarge, "request body too large"));
    return;
  }
  pumpBody();
}

void H2Stream::onEndStream() {
  s_.end_stream = true;
  pumpBody();
}

void H2Stream::onBodyWanted() { pumpBody(); }

void H2Stream::pumpBody() {
  if (!request_.exchangeActive() || !request_.upstreamReady() || request_.bodyDone()) return;
  size_t moved = 0;
  iovec pieces[2];
  while (req_body_.front(pieces) > 0 && request_.bodyRoom()) {
    request_.sendBody(static_cast<const char*>(pieces[0].iov_base), pieces[0].iov_len);
    moved += pieces[0].iov_len;
    req_body_.consume(pieces[0].iov_len);
  }
  req_body_.releaseBlock();
  // The body went upstream: only now may the client send more (stream and connection).
  if (moved > 0) session_->consume(id_, moved);
  if (s_.end_stream && req_body_.empty()) request_.endBody();
}

Downstream::Info H2Stream::info() const {
  Info i;
  i.client_ip = session_->origin().client.ip();
  i.listener = session_->listener().name;
  i.counters = &session_->counters();
  i.protocol = stats::ClientProtocol::kH2;
  i.tls = session_->origin().tls_version;
  return i;
}

http::Error H2Stream::encodeHead(const http::ResponseHead& resp, std::string_view request_id,
                                 bool) {
  if (resp.status == 101) return encodeTunnelHead(resp, request_id);
  // HTTP/2 has no transfer codings: a body still coded (gzip, chunked from the backend)
  // cannot be described to the client.
  if (!resp.transfer_codings.empty())
    return http::upstreamError(ErrorCode::kBadResponse, false,
                               "transfer-coded response for an HTTP/2 client");
  const bool has_body = req_.method != "HEAD" && resp.framing != BodyFraming::kNone;
  if (!has_body) s_.response_ended = true;
  request_.addBytesOut(session_->submitResponse(*this, resp, request_id, has_body));
  return {};
}

http::Error H2Stream::encodeTunnelHead(const http::ResponseHead& resp,
                                       std::string_view request_id) {
  if (!s_.extended_connect)
    return http::upstreamError(ErrorCode::kBadResponse, false, "101 on an HTTP/2 stream");
  http::ResponseHead ok = resp;  // once per tunnel
  if (!ws_key_.empty()) {
    const std::string* accept = resp.find("sec-websocket-accept");
    if (!accept || *accept != http::webSocketAccept(ws_key_))
      return http::upstreamError(ErrorCode::kBadResponse, false,
                                 "backend answered the WebSocket key wrongly");
    std::erase_if(ok.headers, [](const http::Header& h) {
      return http::equalsIgnoreCase(h.name, "sec-websocket-accept");
    });
  }
  ok.status = 200;
  ok.framing = BodyFraming::kUntilClose;
  s_.tunnel = true;
  idle_timer_.cancel();
  request_.addBytesOut(session_->submitResponse(*this, ok, request_id, true));
  return {};
}

void H2Stream::encodeData(const char* data, size_t len) {
  resp_body_.append(data, len);
  request_.addBytesOut(len);
  resumeData();
  // The stream owns its response buffer: it tells the request when it passes the high mark,
  // and resumeIfDrained() when it is below the low mark again.
  if (!s_.above && backlog() >= kHighWater) {
    s_.above = true;
    request_.onAboveWriteHighWatermark();
  }
}

size_t H2Stream::backlog() const { return resp_body_.size() + session_->outputBacklog(); }

void H2Stream::encodeEnd() {
  s_.response_ended = true;
  resumeData();
}

void H2Stream::encodeReset() { session_->resetStream(id_, H2Session::Reset::kInternalError); }

void H2Stream::onRequestComplete() {
  // Body bytes still buffered are not wanted any more; the client's window must not stay
  // closed on their account.
  const size_t unread = req_body_.size();
  if (unread > 0) {
    req_body_.clear();
    session_->consume(id_, unread);
  }
}

void H2Stream::resumeData() {
  if (s_.data_deferred) {
    s_.data_deferred = false;
    session_->resumeData(id_);
  }
  session_->scheduleFlush();
}

long H2Stream::readBody(uint8_t* buf, size_t len, bool* eof) {
  if (resp_body_.empty()) {
    if (s_.response_ended) {
      *eof = true;
      return 0;
    }
    s_.data_deferred = true;
    return -1;
  }
  // The session frames what we copy into its buffer (one DATA frame's payload at most).
  size_t n = 0;
  iovec pieces[2];
  const int count = resp_body_.front(pieces);
  for (int i = 0; i < count && n < len; ++i) {
    const size_t take = std::min(len - n, pieces[i].iov_len);
    std::memcpy(buf + n, pieces[i].iov_base, take);
    n += take;
  }
  resp_body_.consume(n);
  if (resp_body_.empty()) {
    resp_body_.releaseBlock();
    if (s_.response_ended) *eof = true;
  }
  touch();
  return static_cast<long>(n);
}

void H2Stream::resumeIfDrained() {
  if (!s_.above || backlog() > kLowWater) return;
  s_.above = false;
  if (request_.exchangeActive()) request_.onBelowWriteLowWatermark();
}

void H2Stream::onIdleTimeout() {
  if (s_.closed) return;
  if (request_.exchangeActive())
    request_.fail(http::upstreamError(ErrorCode::kUpstreamTimeout, false, "stream idle timeout"));
  else
    session_->resetStream(id_, H2Session::Reset::kCancel);
  session_->scheduleFlush();
}

void H2Stream::onClosed() {
  if (s_.closed) return;
  s_.closed = true;
  idle_timer_.cancel();
  // The client reset the stream (or the connection went) before the response ended.
  request_.clientGone();
}

}  // namespace lb::stream
