#include "proxy/stream/downstream_session.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <cstring>
#include <ctime>

#include "proxy/http/http1_encoder.h"
#include "proxy/router/route_table.h"
#include "proxy/snapshot/snapshot.h"
#include "proxy/stats/traffic_stats.h"
#include "proxy/stream/h2_session.h"
#include "proxy/stream/http1_request.h"
#include "proxy/stream/request_pool.h"
#include "proxy/stream/worker_context.h"
#include "proxy/tls/server_context.h"

namespace lb::stream {

using http::BodyFraming;
using http::ErrorCode;

namespace {

constexpr std::chrono::milliseconds kLingerTime{2000};

}  // namespace

DownstreamSession::DownstreamSession(WorkerContext& worker, uint32_t listener_index, int fd,
                                     const sockaddr* peer)
    : worker_(worker),
      listener_index_(listener_index),
      view_(worker.view()),
      listener_(&view_->snapshot->listeners[listener_index]),
      down_(new net::Stream(worker.loop(), fd)),
      client_(fd, peer),
      counters_(worker.listenerCounters(listener_->name)),
      down_timer_(onTimeoutCb, this) {}

DownstreamSession::~DownstreamSession() {
  releaseRequest();
  if (down_) down_->release();
}

void DownstreamSession::start() {
  int one = 1;
  setsockopt(down_->fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (listener_->proxy_protocol.enabled) {
    // Only the balancers may say who the client is; anyone else is refused unread.
    if (!trustedPeer()) {
      counters_.countProxyHeader(stats::ProxyResult::kUntrusted);
      close();
      return;
    }
    state_ = State::kProxyHeader;
    worker_.deadlines().start(down_timer_, listener_->proxy_protocol.timeout);
    proxy_reader_ = std::make_unique<net::ProxyHeaderReader>(worker_.loop(), down_->fd(),
                                                             onProxyHeaderCb, this);
    return;
  }
  beginConnection();
}

bool DownstreamSession::trustedPeer() const {
  for (const common::IpNetwork& net : listener_->proxy_trusted)
    if (common::networkContains(net, client_.address(), client_.ipv6())) return true;
  return false;
}

void DownstreamSession::onProxyHeaderCb(void* arg, const net::ProxyParse& result) noexcept {
  static_cast<DownstreamSession*>(arg)->onProxyHeader(result);
}

void DownstreamSession::onProxyHeader(const net::ProxyParse& result) {
  proxy_reader_.reset();
  down_timer_.cancel();
  if (result.status != net::ProxyParse::Status::kDone) {
    counters_.countProxyHeader(stats::ProxyResult::kInvalid);
    close();
    return;
  }
  if (result.header.local) {
    counters_.countProxyHeader(stats::ProxyResult::kLocal);
  } else {
    counters_.countProxyHeader(stats::ProxyResult::kOk);
    client_.replace(result.header);
  }
  state_ = State::kReadingHead;
  beginConnection();
}

void DownstreamSession::beginConnection() {
  down_->setCallbacks(onReadCb, onWriteCb, onEventCb, this);
  down_->setReadHighWater(kHighWater);
  down_->setWriteLowWater(kLowWater);  // onDownWrite: resume a paused response below it
  down_->enableRead();
  if (listener_->tls) {
    SSL* ssl = listener_->tls->newSession();
    if (!ssl) {
      close();
      return;
    }
    tls_ = listener_->tls;
    state_ = State::kHandshaking;
    worker_.deadlines().start(down_timer_, listener_->tls_config.handshake_timeout);
    down_->startTlsServer(ssl);
    return;
  }
  // A connection that sends nothing gets the head deadline, not the keep-alive idle time.
  worker_.deadlines().start(down_timer_, listener_->request_headers_timeout);
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
  worker_.deadlines().start(down_timer_, listener_->request_headers_timeout);
  head_timer_running_ = true;
}

void DownstreamSession::onTimeoutCb(void* arg) noexcept {
  static_cast<DownstreamSession*>(arg)->onDownTimeout();
}
void DownstreamSession::onReadCb(net::Stream*, void* arg) noexcept {
  static_cast<DownstreamSession*>(arg)->onDownRead();
}
void DownstreamSession::onWriteCb(net::Stream*, void* arg) noexcept {
  static_cast<DownstreamSession*>(arg)->onDownWrite();
}
void DownstreamSession::onEventCb(net::Stream*, net::StreamEvent event, void* arg) noexcept {
  static_cast<DownstreamSession*>(arg)->onDownEvent(event);
}

void DownstreamSession::onDownRead() {
  switch (state_) {
    case State::kReadingHead:
      processInput();
      break;
    case State::kProxying:
      if (!req_->framing.body_done) pumpRequestBody();
      break;
    case State::kLingering:
      down_->drainInput(down_->inputLength());
      break;
    case State::kProxyHeader:
    case State::kHandshaking:
    case State::kClosed:
      break;
  }
}

void DownstreamSession::onDownWrite() {
  if (state_ == State::kLingering) {
    if (down_->outputLength() == 0) {
      // Everything is sent: half-close and read (discarding) until the client closes, so
      // unread request bytes do not turn our last response into a reset.
      down_->shutdownWrite();
      if (client_eof_) {
        close();  // the client already closed its side: nothing to wait for
        return;
      }
      down_->enableRead();
    }
    return;
  }
  // The response buffer's low mark, once it had passed the high one: the request reads
  // upstream again.
  if (down_above_ && down_->outputLength() <= kLowWater) {
    down_above_ = false;
    if (state_ == State::kProxying) req_->request.onBelowWriteLowWatermark();
  }
}

void DownstreamSession::onDownEvent(net::StreamEvent event) {
  if (state_ == State::kClosed) return;
  if (state_ == State::kHandshaking) {
    if (event == net::StreamEvent::kConnected) {
      onHandshakeDone();
      return;
    }
    counters_.countHandshake(stats::HandshakeResult::kFailed);
    close();
    return;
  }
  if (state_ == State::kLingering || (state_ == State::kReadingHead && !requestStarted())) {
    close();
    return;
  }
  if (state_ == State::kProxying && event == net::StreamEvent::kEof && req_->framing.tunnel) {
    // The client closed its side of a tunnel: what it sent goes on, then the backend's side
    // closes; the tunnel ends when the backend closes too (or idles out).
    req_->framing.client_eof = true;
    client_eof_ = true;
    pumpRequestBody();
    return;
  }
  if (state_ == State::kProxying && event == net::StreamEvent::kEof && req_->framing.body_done &&
      !req_->request.waitingForRoom()) {
    // The client half-closed after a complete request: answer, then close.
    close_after_response_ = true;
    client_eof_ = true;
    return;
  }
  // The client went away mid-request (or reset): nobody is left to answer. One that closes
  // while its request waits for room at the cluster's limits has given up (HAProxy's
  // abortonclose): the request leaves the queue unsent.
  if (state_ == State::kProxying) req_->request.clientGone();
  close();
}

int DownstreamSession::startsWithH2Preface() const {
  static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  const char* data = nullptr;
  size_t have = 0;
  down_->peekInput(&data, &have);
  size_t n = have < kPreface.size() ? have : kPreface.size();
  if (std::string_view(data, n) != kPreface.substr(0, n)) return 0;
  return n == kPreface.size() ? 1 : -1;
}

void DownstreamSession::handOverToH2() {
  H2Session::Origin origin;
  origin.view = view_;
  origin.listener_index = listener_index_;
  origin.client = client_;
  origin.tls = tls_;
  origin.tls_version = tls_version_;
  net::Stream* stream = down_;
  down_ = nullptr;
  state_ = State::kClosed;
  down_timer_.cancel();
  auto* h2 = new H2Session(worker_, stream, std::move(origin));
  worker_.addSession(h2);
  worker_.sessionClosed(this);
  h2->start();
}

void DownstreamSession::processInput() {
  if (!served_any_ && !tls_ && listener_->http2.cleartext && !req_) {
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
    if (!down_->peekInput(&data, &len)) return;
    if (!req_) {
      // The first byte of a request: its state comes from the pool, and on a kept-alive
      // connection the head deadline starts now.
      req_ = worker_.http1Requests().acquire();
      req_->parser.setLimits(listener_->limits);
      req_->request.begin(*this, req_->parser.request(), *view_, worker_.loop().now());
      // A pipelined request starts while the last response may still fill the buffer.
      if (down_above_) req_->request.onAboveWriteHighWatermark();
      if (!head_timer_running_) {
        worker_.deadlines().start(down_timer_, listener_->request_headers_timeout);
        head_timer_running_ = true;
      }
    }
    http::Http1HeadParser::Result r = req_->parser.feed(data, len);
    down_->drainInput(r.consumed);
    req_->request.addBytesIn(r.consumed);
    if (r.status == http::Http1HeadParser::Status::kError) {
      if (!served_any_ && !tls_ && listener_->http2.cleartext &&
          req_->parser.request().headers.empty()) {
        refuseAsH2Preface();
        return;
      }
      state_ = State::kProxying;  // a request exists now, if only to be refused
      req_->request.fail(r.error);
      return;
    }
    if (r.status == http::Http1HeadParser::Status::kDone) {
      handleRequestHead();
      return;
    }
  }
}

void DownstreamSession::refuseAsH2Preface() {
  // On a port that speaks both, a first line that is not HTTP/1.x may be a client's broken
  // HTTP/2 preface: it gets what RFC 9113 3.4 asks for, a connection error PROTOCOL_ERROR
  // (our SETTINGS, then GOAWAY), not an HTTP/1.1 400 it could not read.
  static constexpr unsigned char kSettingsThenGoAway[] = {
      0, 0, 0, 4, 0, 0, 0, 0, 0,                         // SETTINGS, empty
      0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1  // GOAWAY last 0, PROTOCOL_ERROR
  };
  down_->write(kSettingsThenGoAway, sizeof(kSettingsThenGoAway));
  closeGracefully();
}

void DownstreamSession::handleRequestHead() {
  served_any_ = true;
  down_timer_.cancel();
  head_timer_running_ = false;
  state_ = State::kProxying;
  if (view_ != worker_.view()) {
    // A request keeps the view it starts with until it ends; the next one takes the newest.
    int index = worker_.listenerIndex(listener_->name);
    if (index >= 0) {
      view_ = worker_.view();
      listener_index_ = static_cast<uint32_t>(index);
    } else {
      close_after_response_ = true;  // the listener was removed: serve on the old view, close
    }
  }
  listener_ = &view_->snapshot->listeners[listener_index_];
  const http::RequestHead& req = req_->parser.request();
  if (!req.keep_alive || shutting_down_) close_after_response_ = true;
  if (req.framing != BodyFraming::kNone && (req.method == "GET" || req.method == "HEAD")) {
    req_->request.setNoReuse();
    close_after_response_ = true;
  }
  req_->body.start(req.framing, req.content_length);
  req_->framing.body_done = req_->body.done();
  req_->request.start(*view_, *listener_, client_, tls_ != nullptr);
}

void DownstreamSession::onBodyWanted() { pumpRequestBody(); }

void DownstreamSession::onUpstreamFull() { pauseDownstreamRead(true); }

void DownstreamSession::pumpRequestBody() {
  ActiveRequest& request = req_->request;
  if (req_->framing.body_done || !request.upstreamReady()) return;
  if (req_->framing.tunnel) {
    pumpTunnel();
    return;
  }
  const http::RequestHead& req = req_->parser.request();
  if (req.expect_continue && !req_->framing.sent_continue) {
    // The backend is reached: invite the body (the Expect field is not forwarded).
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    down_->write(kContinue.data(), kContinue.size());
    req_->framing.sent_continue = true;
  }
  while (!req_->body.done()) {
    if (!request.bodyRoom()) {
      pauseDownstreamRead(true);  // resumed from onBodyWanted below the low mark
      return;
    }
    const char* data;
    size_t len;
    if (!down_->peekInput(&data, &len)) {
      pauseDownstreamRead(false);
      return;
    }
    http::BodyDecoder::Step step = req_->body.decode(data, len);
    if (step.error) {
      request.fail(http::clientError(ErrorCode::kBadRequest, step.why));
      return;
    }
    if (step.data_len) request.sendBody(data + step.data_offset, step.data_len);
    down_->drainInput(step.consumed);
    request.addBytesIn(step.consumed);
    if (listener_->max_body_bytes && req_->body.payloadBytes() > listener_->max_body_bytes) {
      request.fail(http::clientError(ErrorCode::kBodyTooLarge, "request body too large"));
      return;
    }
  }
  request.endBody();
  req_->framing.body_done = true;
  pauseDownstreamRead(false);
}

void DownstreamSession::pumpTunnel() {
  // The client's bytes, as they come, with the same backpressure as a request body.
  ActiveRequest& request = req_->request;
  const char* data;
  size_t len;
  while (down_->peekInput(&data, &len)) {
    if (!request.bodyRoom()) {
      pauseDownstreamRead(true);  // resumed from onBodyWanted below the low mark
      return;
    }
    request.sendBody(data, len);
    down_->drainInput(len);
    request.addBytesIn(len);
  }
  pauseDownstreamRead(false);
  if (req_->framing.client_eof) {
    request.endBody();
    req_->framing.body_done = true;
  }
}

Downstream::Info DownstreamSession::info() const {
  Info i;
  i.client_ip = client_.ip();
  i.listener = listener_->name;
  i.counters = &counters_;
  i.protocol = stats::ClientProtocol::kHttp1;
  i.tls = tls_version_;
  return i;
}

http::Error DownstreamSession::encodeHead(const http::ResponseHead& resp,
                                          std::string_view request_id, bool closes) {
  const http::RequestHead& req = req_->parser.request();
  Http1Request::Framing& f = req_->framing;
  const bool client11 = req.version_minor == 1;
  f.client_chunked = false;
  if (resp.status == 101) {
    // The connection becomes the tunnel: the client's bytes from here on are not requests.
    f.tunnel = true;
    f.body_done = false;
    f.client_framing = BodyFraming::kUntilClose;
    close_after_response_ = true;
    req_->scratch.clear();
    http::encodeClientResponse(resp, BodyFraming::kNone, false, "upgrade", request_id,
                               &req_->scratch);
    down_->write(req_->scratch.data(), req_->scratch.size());
    req_->request.addBytesOut(req_->scratch.size());
    return {};
  }
  switch (resp.framing) {
    case BodyFraming::kContentLength:
      f.client_framing = BodyFraming::kContentLength;
      break;
    case BodyFraming::kChunked:
    case BodyFraming::kUntilClose:
      if (client11) {
        f.client_framing = BodyFraming::kChunked;
        f.client_chunked = true;
      } else if (!resp.transfer_codings.empty()) {
        // An HTTP/1.0 client cannot be told the body is, say, gzip transfer-coded.
        return http::upstreamError(ErrorCode::kBadResponse, false,
                                   "transfer-coded response for an HTTP/1.0 client");
      } else {
        f.client_framing = BodyFraming::kUntilClose;
        close_after_response_ = true;
      }
      break;
    case BodyFraming::kNone:
      f.client_framing = BodyFraming::kNone;
      break;
  }
  // An early response to a request whose body is still arriving: the connection cannot be
  // resynchronised with the client afterwards.
  if (closes || !f.body_done || shutting_down_) close_after_response_ = true;
  std::string_view connection = close_after_response_ ? "close" : (client11 ? "" : "keep-alive");
  req_->scratch.clear();
  http::encodeClientResponse(resp, f.client_framing, req.method == "HEAD", connection, request_id,
                             &req_->scratch);
  down_->write(req_->scratch.data(), req_->scratch.size());
  req_->request.addBytesOut(req_->scratch.size());
  return {};
}

void DownstreamSession::encodeData(const char* data, size_t len) {
  if (req_->framing.client_chunked) {
    req_->scratch.clear();
    http::appendChunkHeader(len, &req_->scratch);
    down_->write(req_->scratch.data(), req_->scratch.size());
    req_->request.addBytesOut(req_->scratch.size() + http::kChunkEnd.size());
  }
  down_->write(data, len);
  if (req_->framing.client_chunked) down_->write(http::kChunkEnd.data(), http::kChunkEnd.size());
  req_->request.addBytesOut(len);
  // This connection owns the response buffer: it tells the request when it passes the high
  // mark (and onDownWrite when it drains below the low one).
  if (!down_above_ && down_->outputLength() >= kHighWater) {
    down_above_ = true;
    req_->request.onAboveWriteHighWatermark();
  }
}

void DownstreamSession::encodeEnd() {
  if (req_->framing.client_chunked) {
    down_->write(http::kLastChunk.data(), http::kLastChunk.size());
    req_->request.addBytesOut(http::kLastChunk.size());
  }
}

void DownstreamSession::encodeReset() { close(); }

void DownstreamSession::onRequestComplete() {
  if (close_after_response_ || shutting_down_ || !req_->framing.body_done) {
    closeGracefully();
    return;
  }
  startNextRequest();
}

void DownstreamSession::onDownTimeout() {
  if (state_ == State::kProxyHeader) {
    counters_.countProxyHeader(stats::ProxyResult::kTimeout);
    close();
  } else if (state_ == State::kHandshaking) {
    counters_.countHandshake(stats::HandshakeResult::kTimeout);
    close();
  } else if (state_ == State::kReadingHead) {
    if (requestStarted()) {
      state_ = State::kProxying;
      req_->request.fail(
          http::clientError(ErrorCode::kRequestTimeout, "request head not received in time"));
    } else {
      close();  // idle keep-alive connection, or one that never sent a byte
    }
  } else if (state_ == State::kLingering) {
    close();
  }
}

void DownstreamSession::startNextRequest() {
  releaseRequest();
  pauseDownstreamRead(false);
  state_ = State::kReadingHead;
  worker_.deadlines().start(down_timer_, listener_->idle_timeout);
  head_timer_running_ = false;
  if (down_->inputLength() > 0) {
    // A pipelined request is already buffered: serve it from a fresh stack frame.
    worker_.loop().runLater([this] {
      if (state_ == State::kReadingHead) processInput();
    });
  }
}

bool DownstreamSession::requestStarted() const { return req_ && req_->parser.started(); }

void DownstreamSession::releaseRequest() {
  if (req_) worker_.http1Requests().release(std::move(req_));  // aborts its exchange
}

void DownstreamSession::pauseDownstreamRead(bool pause) {
  if (pause == downstream_read_paused_ || !down_) return;
  downstream_read_paused_ = pause;
  down_->readDisable(pause);
}

void DownstreamSession::beginShutdown() {
  shutting_down_ = true;
  if (state_ == State::kProxyHeader || state_ == State::kHandshaking ||
      (state_ == State::kReadingHead && !requestStarted()))
    close();
  else
    close_after_response_ = true;
}

void DownstreamSession::forceClose() { close(); }

void DownstreamSession::onViewChanged() {
  if (worker_.listenerIndex(listener_->name) < 0) beginShutdown();
}

void DownstreamSession::abortIfUsing(const upstream::HostState* host) {
  if (state_ == State::kProxying) req_->request.abortIfUsing(host);
}

void DownstreamSession::closeGracefully() {
  if (state_ == State::kClosed) return;
  state_ = State::kLingering;
  releaseRequest();
  worker_.deadlines().start(down_timer_, kLingerTime);
  down_->setWriteLowWater(0);
  pauseDownstreamRead(false);
  down_->enableRead();
  if (down_->outputLength() == 0) onDownWrite();
}

void DownstreamSession::close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  down_timer_.cancel();
  proxy_reader_.reset();  // its event goes before the socket does
  releaseRequest();
  down_->release();  // safe inside its own callback: the stream defers the free
  down_ = nullptr;
  worker_.sessionClosed(this);
}

}  // namespace lb::stream
