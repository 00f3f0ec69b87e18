#include "proxy/stream/h2_stream.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <vector>

#include "proxy/router/route_table.h"
#include "proxy/snapshot/snapshot.h"
#include "proxy/stream/h2_session.h"
#include "proxy/stream/request_id.h"
#include "proxy/stream/request_record.h"
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

nghttp2_nv makeNv(std::string_view name, std::string_view value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NONE};
}

ssize_t readBodyCb(nghttp2_session*, int32_t, uint8_t* buf, size_t len, uint32_t* flags,
                   nghttp2_data_source* source, void*) {
  return static_cast<H2Stream*>(source->ptr)->readBody(buf, len, flags);
}

}  // namespace

struct H2Stream::HeadScratch {
  std::vector<nghttp2_nv> nva;
  std::string names;  // the lower-cased field names, back to back
};

H2Stream::H2Stream(WorkerContext& worker)
    : head_scratch_(std::make_unique<HeadScratch>()),
      req_body_(worker.loop()),
      resp_body_(worker.loop()),
      exchange_(worker, *this) {}

H2Stream::~H2Stream() { exchange_.abort(); }

void H2Stream::open(H2Session& session, int32_t id) {
  s_ = &session;
  id_ = id;
  view_ = session.view();
  started_at_ = s_->worker().loop().now();
  touch();
}

void H2Stream::reset() {
  exchange_.reset();
  idle_timer_.cancel();
  s_ = nullptr;
  id_ = 0;
  req_.clear();
  cookie_.clear();
  header_bytes_ = 0;
  head_refused_ = end_stream_ = dispatched_ = closed_ = recorded_ = false;
  req_body_.clear();
  resp_body_.clear();
  response_started_ = upstream_head_ = response_ended_ = data_deferred_ = false;
  view_.reset();  // a pooled stream pins no configuration
  route_ = nullptr;
  cluster_ = nullptr;
  request_id_.clear();
  status_ = 0;
  last_error_ = {};
  bytes_in_ = body_bytes_ = bytes_out_ = 0;
}

size_t H2Stream::headCapacity() const {
  return std::max(header_bytes_, head_scratch_->names.capacity());
}

namespace {
// Free streams kept per worker, and the largest head whose capacity a pooled one may keep.
constexpr size_t kMaxFreeStreams = 256;
constexpr size_t kMaxPooledHeadBytes = 8 * 1024;
}  // namespace

H2StreamPool::~H2StreamPool() = default;

std::unique_ptr<H2Stream> H2StreamPool::acquire(H2Session& session, int32_t id) {
  std::unique_ptr<H2Stream> stream;
  if (free_.empty()) {
    stream = std::make_unique<H2Stream>(worker_);
  } else {
    stream = std::move(free_.back());
    free_.pop_back();
  }
  stream->open(session, id);
  return stream;
}

void H2StreamPool::release(std::unique_ptr<H2Stream> stream) {
  if (free_.size() >= kMaxFreeStreams || stream->headCapacity() > kMaxPooledHeadBytes) return;
  stream->reset();
  free_.push_back(std::move(stream));
}

void H2Stream::touch() {
  s_->worker().deadlines().start(idle_timer_, s_->listener().http2.stream_idle_timeout);
}

void H2Stream::onIdleTimer(void* arg) { static_cast<H2Stream*>(arg)->onIdleTimeout(); }

bool H2Stream::addHeader(std::string_view name, std::string_view value) {
  const auto& limits = s_->listener().limits;
  header_bytes_ += name.size() + value.size() + 32;  // RFC 9113 6.5.2 accounting
  if (header_bytes_ > limits.max_header_bytes || req_.headers.size() >= limits.max_headers ||
      !validValue(value)) {
    head_refused_ = true;
    return false;
  }
  if (!name.empty() && name[0] == ':') {
    if (name == ":method")
      req_.method = value;
    else if (name == ":path")
      req_.path = value;
    else if (name == ":authority")
      req_.authority = value;
    return true;  // :scheme; nghttp2 has already refused unknown or repeated pseudo-headers
  }
  if (!validName(name) || isConnectionSpecific(name)) {
    head_refused_ = true;
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
      head_refused_ = true;
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
  end_stream_ = end_stream;
  if (end_stream) {
    // No body at all; a declared length must then be 0 (nghttp2 checks it against DATA).
    req_.framing = BodyFraming::kNone;
    req_.content_length = 0;
  } else if (req_.framing != BodyFraming::kContentLength) {
    req_.framing = BodyFraming::kChunked;  // length unknown: chunked to the HTTP/1.1 upstream
  }
  bytes_in_ += header_bytes_;
}

void H2Stream::dispatch() {
  dispatched_ = true;
  // A request takes the worker's newest view (the connection's listener may have moved).
  view_ = s_->view();
  chooseRequestId(req_, s_->worker().random().next(), s_->worker().random().next(), &request_id_);
  const snapshot::ListenerSnapshot& listener = s_->listener();
  if (req_.method == "CONNECT" || req_.path.empty() || req_.path[0] != '/') {
    fail(http::clientError(ErrorCode::kBadRequest, "only origin-form requests are proxied"));
    return;
  }
  if (listener.max_body_bytes && req_.framing == BodyFraming::kContentLength &&
      req_.content_length > listener.max_body_bytes) {
    fail(http::clientError(ErrorCode::kBodyTooLarge, "request body too large"));
    return;
  }
  route_ = listener.routes.match(req_.authority, req_.path);
  if (!route_) {
    fail(http::clientError(ErrorCode::kNoRoute, "no route for this host and path"));
    return;
  }
  cluster_ = &view_->clusters[route_->cluster_index];
  http::ForwardContext fwd;
  fwd.client_ip = s_->origin().client_ip;
  fwd.request_id = request_id_;
  fwd.proto = s_->origin().tls ? "https" : "http";
  exchange_.start(req_, fwd, *route_, *cluster_);
}

void H2Stream::onData(const uint8_t* data, size_t len) {
  touch();
  bytes_in_ += len;
  body_bytes_ += len;
  if (dispatched_ && !exchange_.active()) {
    // Answered already (an error, or an early response): the rest is not wanted, but its
    // bytes must still count as consumed or they would close the connection's window.
    nghttp2_session_consume(s_->ng(), id_, len);
    return;
  }
  req_body_.append(data, len);
  const uint64_t limit = s_->listener().max_body_bytes;
  if (limit && body_bytes_ > limit) {
    fail(http::clientError(ErrorCode::kBodyTooLarge, "request body too large"));
    return;
  }
  pumpBody();
}

void H2Stream::onEndStream() {
  end_stream_ = true;
  pumpBody();
}

void H2Stream::onRequestBodyWanted() { pumpBody(); }

void H2Stream::pumpBody() {
  if (!exchange_.active() || !exchange_.upstreamReady() || exchange_.bodyDone()) return;
  size_t moved = 0;
  iovec pieces[2];
  while (req_body_.front(pieces) > 0 && exchange_.bodyRoom()) {
    exchange_.sendBody(static_cast<const char*>(pieces[0].iov_base), pieces[0].iov_len);
    moved += pieces[0].iov_len;
    req_body_.consume(pieces[0].iov_len);
  }
  req_body_.releaseBlock();
  if (moved > 0) {
    // The body went upstream: only now may the client send more (stream and connection).
    nghttp2_session_consume(s_->ng(), id_, moved);
    s_->scheduleFlush();
  }
  if (end_stream_ && req_body_.empty()) exchange_.endBody();
}

bool H2Stream::onResponseHead(const http::ResponseHead& resp) {
  status_ = resp.status;
  upstream_head_ = true;
  const bool has_body = req_.method != "HEAD" && resp.framing != BodyFraming::kNone;
  submitHead(resp.status, &resp, has_body);
  return true;
}

void H2Stream::submitHead(int status, const http::ResponseHead* resp, bool has_body) {
  char status_text[4];
  std::to_chars(status_text, status_text + 3, status);
  std::vector<nghttp2_nv>& nva = head_scratch_->nva;
  std::string& names = head_scratch_->names;  // HTTP/2 field names are lower case
  nva.clear();
  names.clear();
  nva.push_back(makeNv(":status", std::string_view(status_text, 3)));
  bool has_request_id = false;
  if (resp) {
    // Room for every name up front: the fields point into `names`, which must not move.
    size_t room = 0;
    for (const http::Header& h : resp->headers) room += h.name.size();
    names.reserve(room);
    for (const http::Header& h : resp->headers) {
      if (http::isHopByHop(h.name, resp->connection_tokens) ||
          http::equalsIgnoreCase(h.name, "transfer-encoding"))
        continue;
      const size_t at = names.size();
      for (char c : h.name) names.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c);
      std::string_view name(names.data() + at, h.name.size());
      if (name == "x-request-id") has_request_id = true;
      nva.push_back(makeNv(name, h.value));
    }
  }
  if (!has_request_id) nva.push_back(makeNv("x-request-id", request_id_));
  for (const auto& nv : nva) bytes_out_ += nv.namelen + nv.valuelen;
  nghttp2_data_provider provider;
  provider.source.ptr = this;
  provider.read_callback = readBodyCb;
  response_started_ = true;
  if (!has_body) response_ended_ = true;
  nghttp2_submit_response(s_->ng(), id_, nva.data(), nva.size(), has_body ? &provider : nullptr);
  s_->scheduleFlush();
}

void H2Stream::onResponseData(const char* data, size_t len) {
  resp_body_.append(data, len);
  bytes_out_ += len;
  resumeData();
}

size_t H2Stream::responseBacklog() const { return resp_body_.size() + s_->outputBacklog(); }

void H2Stream::onResponseEnd() {
  response_ended_ = true;
  resumeData();
  record();
}

void H2Stream::resumeData() {
  if (data_deferred_) {
    data_deferred_ = false;
    nghttp2_session_resume_data(s_->ng(), id_);
  }
  s_->scheduleFlush();
}

long H2Stream::readBody(uint8_t* buf, size_t len, uint32_t* data_flags) {
  if (resp_body_.empty()) {
    if (response_ended_) {
      *data_flags |= NGHTTP2_DATA_FLAG_EOF;
      return 0;
    }
    data_deferred_ = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  // nghttp2 frames what we copy into its buffer (one DATA frame's payload at most).
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
    if (response_ended_) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
  }
  touch();
  return static_cast<long>(n);
}

void H2Stream::resumeIfDrained() {
  if (exchange_.active() && responseBacklog() <= kLowWater) exchange_.resumeResponse();
}

void H2Stream::onExchangeFailed(const http::Error& error) { fail(error); }

void H2Stream::fail(const http::Error& error) {
  last_error_ = error;
  exchange_.abort();
  if (closed_) return;
  if (response_started_) {
    // Response bytes already went out: reset the stream (the HTTP/2 way to cut a response).
    nghttp2_submit_rst_stream(s_->ng(), NGHTTP2_FLAG_NONE, id_, NGHTTP2_INTERNAL_ERROR);
    s_->scheduleFlush();
    record();
    return;
  }
  status_ = http::statusFor(error.code);
  if (request_id_.empty())
    chooseRequestId(req_, s_->worker().random().next(), s_->worker().random().next(), &request_id_);
  std::string body = std::string(http::reasonPhrase(status_)) + ": " + error.detail + "\n";
  resp_body_.append(body.data(), body.size());
  bytes_out_ += body.size();
  http::ResponseHead head;
  head.headers.push_back({"content-type", "text/plain; charset=utf-8"});
  head.headers.push_back({"content-length", std::to_string(body.size())});
  response_ended_ = true;
  submitHead(status_, &head, true);
  record();
  // Body bytes already buffered are not wanted either.
  size_t unread = req_body_.size();
  if (unread > 0) {
    req_body_.clear();
    nghttp2_session_consume(s_->ng(), id_, unread);
  }
}

void H2Stream::onIdleTimeout() {
  if (closed_) return;
  if (exchange_.active())
    fail(http::upstreamError(ErrorCode::kUpstreamTimeout, false, "stream idle timeout"));
  else
    nghttp2_submit_rst_stream(s_->ng(), NGHTTP2_FLAG_NONE, id_, NGHTTP2_CANCEL);
  s_->scheduleFlush();
}

void H2Stream::onClosed(uint32_t) {
  if (closed_) return;
  closed_ = true;
  idle_timer_.cancel();
  if (dispatched_ && !recorded_) {
    // The client reset the stream (or the connection went) before the response ended.
    if (status_ == 0 || !response_ended_) status_ = status_ ? status_ : 499;
    exchange_.abort();
    record();
  }
  exchange_.abort();
}

void H2Stream::record() {
  if (recorded_ || !dispatched_) return;
  recorded_ = true;
  RequestRecord r;
  r.view = view_.get();
  r.route = route_;
  r.cluster = cluster_;
  r.outcome = &exchange_.outcome();
  r.request = &req_;
  r.client_error = last_error_;
  r.status = status_;
  r.response_started = upstream_head_;
  r.request_id = request_id_;
  r.client_ip = s_->origin().client_ip;
  r.listener = s_->listener().name;
  r.protocol = stats::ClientProtocol::kH2;
  r.tls = s_->origin().tls_version;
  r.bytes_in = bytes_in_;
  r.bytes_out = bytes_out_;
  r.started_at = started_at_;
  recordRequest(s_->worker(), s_->counters(), r);
}

}  // namespace lb::stream
