#include "proxy/stream/downstream_session.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <cstring>
#include <ctime>

#include "proxy/core/worker.h"
#include "proxy/http/http1_encoder.h"
#include "proxy/router/route_table.h"
#include "proxy/snapshot/snapshot.h"
#include "proxy/stats/traffic_stats.h"
#include "proxy/stream/first_chunk.h"
#include "proxy/stream/h2_session.h"
#include "proxy/stream/request_id.h"
#include "proxy/stream/request_record.h"
#include "proxy/tls/server_context.h"

namespace lb::stream {

using http::BodyFraming;
using http::ErrorCode;

namespace {

constexpr std::chrono::milliseconds kLingerTime{2000};

std::string peerAddress(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = "";
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof(buf));
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof(buf));
  return buf;
}

}  // namespace

DownstreamSession::DownstreamSession(core::Worker& worker, uint32_t listener_index, int fd,
                                     const sockaddr* peer)
    : worker_(worker),
      listener_index_(listener_index),
      view_(worker.view()),
      listener_(&view_->snapshot->listeners[listener_index]),
      listener_name_(listener_->name),
      down_(new core::Stream(worker.loop().base(), fd)),
      client_ip_(peerAddress(peer)),
      counters_(worker.listenerCounters(listener_->name)),
      parser_(http::Http1HeadParser::Kind::kRequest, listener_->limits),
      down_timer_(worker.loop(), [this] { onDownTimeout(); }),
      exchange_(worker, *this) {}

DownstreamSession::~DownstreamSession() {
  exchange_.abort();
  if (down_) down_->release();
}

void DownstreamSession::start() {
  int one = 1;
  setsockopt(down_->fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  down_->setCallbacks(onReadCb, onWriteCb, onEventCb, this);
  down_->setReadHighWater(kHighWater);
  down_->setWriteLowWater(kLowWater);  // onDownWrite: resume a paused response below it
  down_->enableRead();
  started_at_ = std::chrono::steady_clock::now();
  if (listener_->tls) {
    SSL* ssl = listener_->tls->newSession();
    if (!ssl) {
      close();
      return;
    }
    tls_ = listener_->tls;
    state_ = State::kHandshaking;
    down_timer_.start(listener_->tls_config.handshake_timeout);
    down_->startTlsServer(ssl);
    return;
  }
  // A connection that sends nothing gets the head deadline, not the keep-alive idle time.
  down_timer_.start(listener_->request_headers_timeout);
  head_timer_running_ = true;
}

void DownstreamSession::onHandshakeDone() {
  SSL* ssl = down_->ssl();
  counters_.countHandshake(SSL_session_reused(ssl) ? stats::HandshakeResult::kResumed
                                                   : stats::HandshakeResult::kFull);
  tls_version_ =
      SSL_version(ssl) == TLS1_3_VERSION ? stats::TlsVersion::kTls13 : stats::TlsVersion::kTls12;
  if (tls::ServerContext::negotiatedH2(ssl)) {
    handOverToH2();
    return;
  }
  state_ = State::kReadingHead;
  down_timer_.start(listener_->request_headers_timeout);
  head_timer_running_ = true;
}

void DownstreamSession::onReadCb(core::Stream*, void* arg) {
  static_cast<DownstreamSession*>(arg)->onDownRead();
}
void DownstreamSession::onWriteCb(core::Stream*, void* arg) {
  static_cast<DownstreamSession*>(arg)->onDownWrite();
}
void DownstreamSession::onEventCb(core::Stream*, short events, void* arg) {
  static_cast<DownstreamSession*>(arg)->onDownEvent(events);
}

void DownstreamSession::onDownRead() {
  switch (state_) {
    case State::kReadingHead:
      processInput();
      break;
    case State::kProxying:
      if (!request_body_done_) pumpRequestBody();
      break;
    case State::kLingering: {
      evbuffer* in = down_->input();
      evbuffer_drain(in, evbuffer_get_length(in));
      break;
    }
    case State::kHandshaking:
    case State::kClosed:
      break;
  }
}

void DownstreamSession::onDownWrite() {
  evbuffer* out = down_->output();
  if (state_ == State::kLingering) {
    if (evbuffer_get_length(out) == 0) {
      // Everything is sent: half-close and read (discarding) until the client closes, so
      // unread request bytes do not turn our last response into a reset.
      down_->shutdownWrite();
      down_->enableRead();
    }
    return;
  }
  if (state_ == State::kProxying && evbuffer_get_length(out) <= kLowWater)
    exchange_.resumeResponse();
}

void DownstreamSession::onDownEvent(short events) {
  if (state_ == State::kClosed) return;
  if (state_ == State::kHandshaking) {
    if (events & BEV_EVENT_CONNECTED) {
      onHandshakeDone();
      return;
    }
    counters_.countHandshake(stats::HandshakeResult::kFailed);
    close();
    return;
  }
  if (state_ == State::kLingering || (state_ == State::kReadingHead && !parser_.started())) {
    close();
    return;
  }
  if (state_ == State::kProxying && (events & BEV_EVENT_EOF) && !(events & BEV_EVENT_ERROR) &&
      request_body_done_) {
    // The client half-closed after a complete request: answer, then close.
    close_after_response_ = true;
    return;
  }
  // The client went away mid-request (or reset): nobody is left to answer.
  if (state_ == State::kProxying) {
    if (!response_done_ && status_ == 0) status_ = 499;
    exchange_.abort();
    recordRequest();
  }
  close();
}

int DownstreamSession::startsWithH2Preface() const {
  static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  char head[24];
  evbuffer* in = down_->input();
  size_t have = evbuffer_get_length(in);
  size_t n = have < kPreface.size() ? have : kPreface.size();
  evbuffer_copyout(in, head, n);
  if (std::string_view(head, n) != kPreface.substr(0, n)) return 0;
  return n == kPreface.size() ? 1 : -1;
}

void DownstreamSession::handOverToH2() {
  H2Session::Origin origin;
  origin.view = view_;
  origin.listener_index = listener_index_;
  origin.client_ip = client_ip_;
  origin.tls = tls_;
  origin.tls_version = tls_version_;
  core::Stream* stream = down_;
  down_ = nullptr;
  state_ = State::kClosed;
  down_timer_.cancel();
  auto* h2 = new H2Session(worker_, stream, std::move(origin));
  worker_.adoptSession(h2);
  worker_.sessionClosed(this);
  h2->start();
}

void DownstreamSession::processInput() {
  evbuffer* in = down_->input();
  if (!served_any_ && !tls_ && listener_->http2.cleartext && !parser_.started()) {
    int preface = startsWithH2Preface();
    if (preface < 0) return;  // wait for more bytes
    if (preface > 0) {
      handOverToH2();
      return;
    }
  }
  while (state_ == State::kReadingHead) {
    const char* data;
    size_t len;
    if (!firstChunk(in, &data, &len)) return;
    if (!head_timer_running_) {
      // First byte of a new request on a kept-alive connection: the head deadline starts.
      down_timer_.start(listener_->request_headers_timeout);
      head_timer_running_ = true;
      started_at_ = std::chrono::steady_clock::now();
    }
    http::Http1HeadParser::Result r = parser_.feed(data, len);
    evbuffer_drain(in, r.consumed);
    bytes_in_ += r.consumed;
    if (r.status == http::Http1HeadParser::Status::kError) {
      state_ = State::kProxying;  // a request exists now, if only to be refused
      failRequest(r.error);
      return;
    }
    if (r.status == http::Http1HeadParser::Status::kDone) {
      handleRequestHead();
      return;
    }
  }
}

void DownstreamSession::handleRequestHead() {
  served_any_ = true;
  down_timer_.cancel();
  head_timer_running_ = false;
  state_ = State::kProxying;
  if (view_ != worker_.view()) {
    // A request keeps the view it starts with until it ends; the next one takes the newest.
    int index = worker_.listenerIndex(listener_name_);
    if (index >= 0) {
      view_ = worker_.view();
      listener_index_ = static_cast<uint32_t>(index);
    } else {
      close_after_response_ = true;  // the listener was removed: serve on the old view, close
    }
  }
  listener_ = &view_->snapshot->listeners[listener_index_];
  http::RequestHead& req = parser_.request();

  const std::string* id = req.find("x-request-id");
  if (id && validRequestId(*id)) {
    request_id_ = *id;
  } else {
    request_id_.clear();
    appendHex(&request_id_, worker_.random().next());
    appendHex(&request_id_, worker_.random().next());
  }
  if (!req.keep_alive || shutting_down_) close_after_response_ = true;
  if (req.framing != BodyFraming::kNone && (req.method == "GET" || req.method == "HEAD")) {
    exchange_.setNoReuse();
    close_after_response_ = true;
  }

  request_body_.start(req.framing, req.content_length);
  request_body_done_ = request_body_.done();
  if (listener_->max_body_bytes && req.framing == BodyFraming::kContentLength &&
      req.content_length > listener_->max_body_bytes) {
    failRequest(http::clientError(ErrorCode::kBodyTooLarge, "request body too large"));
    return;
  }
  route_ = listener_->routes.match(req.authority, req.path);
  if (!route_) {
    failRequest(http::clientError(ErrorCode::kNoRoute, "no route for this host and path"));
    return;
  }
  cluster_ = &view_->clusters[route_->cluster_index];
  http::ForwardContext fwd;
  fwd.client_ip = client_ip_;
  fwd.request_id = request_id_;
  if (tls_) fwd.proto = "https";
  exchange_.start(req, fwd, *route_, *cluster_);
}

void DownstreamSession::onRequestBodyWanted() { pumpRequestBody(); }

void DownstreamSession::pumpRequestBody() {
  if (request_body_done_ || !exchange_.upstreamReady()) return;
  const http::RequestHead& req = parser_.request();
  if (req.expect_continue && !sent_continue_) {
    // The backend is reached: invite the body (the Expect field is not forwarded).
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    down_->write(kContinue.data(), kContinue.size());
    sent_continue_ = true;
  }
  evbuffer* in = down_->input();
  while (!request_body_.done()) {
    if (!exchange_.bodyRoom()) {
      pauseDownstreamRead(true);  // resumed from onRequestBodyWanted below the low mark
      return;
    }
    const char* data;
    size_t len;
    if (!firstChunk(in, &data, &len)) {
      pauseDownstreamRead(false);
      return;
    }
    http::BodyDecoder::Step step = request_body_.decode(data, len);
    if (step.error) {
      failRequest(http::clientError(ErrorCode::kBadRequest, step.why));
      return;
    }
    if (step.data_len) exchange_.sendBody(data + step.data_offset, step.data_len);
    evbuffer_drain(in, step.consumed);
    bytes_in_ += step.consumed;
    if (listener_->max_body_bytes && request_body_.payloadBytes() > listener_->max_body_bytes) {
      failRequest(http::clientError(ErrorCode::kBodyTooLarge, "request body too large"));
      return;
    }
  }
  exchange_.endBody();
  request_body_done_ = true;
  pauseDownstreamRead(false);
}

size_t DownstreamSession::responseBacklog() const { return evbuffer_get_length(down_->output()); }

bool DownstreamSession::onResponseHead(const http::ResponseHead& resp) {
  const http::RequestHead& req = parser_.request();
  const bool is_head = req.method == "HEAD";
  status_ = resp.status;
  const bool client11 = req.version_minor == 1;
  client_chunked_ = false;
  switch (resp.framing) {
    case BodyFraming::kContentLength:
      client_framing_ = BodyFraming::kContentLength;
      break;
    case BodyFraming::kChunked:
    case BodyFraming::kUntilClose:
      if (client11) {
        client_framing_ = BodyFraming::kChunked;
        client_chunked_ = true;
      } else if (!resp.transfer_codings.empty()) {
        // An HTTP/1.0 client cannot be told the body is, say, gzip transfer-coded.
        failRequest(http::upstreamError(ErrorCode::kBadResponse, false,
                                        "transfer-coded response for an HTTP/1.0 client"));
        return false;
      } else {
        client_framing_ = BodyFraming::kUntilClose;
        close_after_response_ = true;
      }
      break;
    case BodyFraming::kNone:
      client_framing_ = BodyFraming::kNone;
      break;
  }
  // An early response to a request whose body is still arriving: the connection cannot be
  // resynchronised with the client afterwards.
  if (!request_body_done_ || shutting_down_) close_after_response_ = true;
  std::string_view connection = close_after_response_ ? "close" : (client11 ? "" : "keep-alive");
  scratch_.clear();
  http::encodeClientResponse(resp, client_framing_, is_head, connection, request_id_, &scratch_);
  down_->write(scratch_.data(), scratch_.size());
  bytes_out_ += scratch_.size();
  response_started_ = true;
  return true;
}

void DownstreamSession::onResponseData(const char* data, size_t len) {
  evbuffer* out = down_->output();
  if (client_chunked_) {
    scratch_.clear();
    http::appendChunkHeader(len, &scratch_);
    evbuffer_add(out, scratch_.data(), scratch_.size());
    bytes_out_ += scratch_.size() + http::kChunkEnd.size();
  }
  evbuffer_add(out, data, len);
  if (client_chunked_) evbuffer_add(out, http::kChunkEnd.data(), http::kChunkEnd.size());
  bytes_out_ += len;
}

void DownstreamSession::onResponseEnd() {
  if (client_chunked_) {
    evbuffer_add(down_->output(), http::kLastChunk.data(), http::kLastChunk.size());
    bytes_out_ += http::kLastChunk.size();
  }
  response_done_ = true;
  recordRequest();
  if (close_after_response_ || shutting_down_ || !request_body_done_) {
    closeGracefully();
    return;
  }
  startNextRequest();
}

void DownstreamSession::onExchangeFailed(const http::Error& error) { failRequest(error); }

void DownstreamSession::onDownTimeout() {
  if (state_ == State::kHandshaking) {
    counters_.countHandshake(stats::HandshakeResult::kTimeout);
    close();
  } else if (state_ == State::kReadingHead) {
    if (parser_.started()) {
      state_ = State::kProxying;
      failRequest(
          http::clientError(ErrorCode::kRequestTimeout, "request head not received in time"));
    } else {
      close();  // idle keep-alive connection, or one that never sent a byte
    }
  } else if (state_ == State::kLingering) {
    close();
  }
}

void DownstreamSession::failRequest(http::Error error) {
  if (state_ == State::kClosed || state_ == State::kLingering) return;
  last_error_ = error;
  exchange_.abort();
  if (response_started_) {
    // Response bytes already reached the client: the only honest signal left is to cut.
    recordRequest();
    close();
    return;
  }
  status_ = http::statusFor(error.code);
  if (request_id_.empty()) {
    appendHex(&request_id_, worker_.random().next());
    appendHex(&request_id_, worker_.random().next());
  }
  const bool client_fault =
      error.source == http::ErrorSource::kDownstream && error.code != ErrorCode::kNoRoute;
  const bool close_conn =
      client_fault || close_after_response_ || !request_body_done_ || shutting_down_;
  scratch_.clear();
  http::encodeErrorResponse(status_, error.detail, request_id_, close_conn, &scratch_);
  down_->write(scratch_.data(), scratch_.size());
  bytes_out_ += scratch_.size();
  response_done_ = true;
  recordRequest();
  if (close_conn)
    closeGracefully();
  else
    startNextRequest();
}

void DownstreamSession::startNextRequest() {
  resetRequestState();
  parser_.reset();
  state_ = State::kReadingHead;
  down_timer_.start(listener_->idle_timeout);
  head_timer_running_ = false;
  if (evbuffer_get_length(down_->input()) > 0) {
    // A pipelined request is already buffered: serve it from a fresh stack frame.
    worker_.loop().runLater([this] {
      if (state_ == State::kReadingHead) processInput();
    });
  }
}

void DownstreamSession::resetRequestState() {
  exchange_.reset();
  route_ = nullptr;
  cluster_ = nullptr;
  request_body_done_ = false;
  sent_continue_ = false;
  response_started_ = false;
  response_done_ = false;
  client_chunked_ = false;
  last_error_ = {};
  status_ = 0;
  request_id_.clear();
  bytes_in_ = 0;
  bytes_out_ = 0;
  pauseDownstreamRead(false);
}

void DownstreamSession::pauseDownstreamRead(bool pause) {
  if (pause == downstream_read_paused_ || !down_) return;
  downstream_read_paused_ = pause;
  if (pause)
    down_->disableRead();
  else
    down_->enableRead();
}

void DownstreamSession::beginShutdown() {
  shutting_down_ = true;
  if (state_ == State::kHandshaking || (state_ == State::kReadingHead && !parser_.started()))
    close();
  else
    close_after_response_ = true;
}

void DownstreamSession::forceClose() {
  exchange_.abort();
  close();
}

void DownstreamSession::onViewChanged() {
  if (worker_.listenerIndex(listener_name_) < 0) beginShutdown();
}

void DownstreamSession::abortIfUsing(const upstream::HostState* host) {
  if (state_ == State::kProxying) exchange_.abortIfUsing(host);
}

void DownstreamSession::recordRequest() {
  RequestRecord r;
  r.view = view_.get();
  r.route = route_;
  r.cluster = cluster_;
  r.outcome = &exchange_.outcome();
  r.request = &parser_.request();
  r.client_error = last_error_;
  r.status = status_;
  r.response_started = response_started_;
  r.request_id = request_id_;
  r.client_ip = client_ip_;
  r.listener = listener_->name;
  r.protocol = stats::ClientProtocol::kHttp1;
  r.tls = tls_version_;
  r.bytes_in = bytes_in_;
  r.bytes_out = bytes_out_;
  r.started_at = started_at_;
  stream::recordRequest(worker_, counters_, r);
}

void DownstreamSession::closeGracefully() {
  if (state_ == State::kClosed) return;
  state_ = State::kLingering;
  exchange_.abort();
  down_timer_.start(kLingerTime);
  down_->setWriteLowWater(0);
  down_->enableRead();
  downstream_read_paused_ = false;
  if (evbuffer_get_length(down_->output()) == 0) onDownWrite();
}

void DownstreamSession::close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  down_timer_.cancel();
  exchange_.abort();
  down_->release();  // safe inside its own callback: the stream defers the free
  down_ = nullptr;
  worker_.sessionClosed(this);
}

}  // namespace lb::stream
