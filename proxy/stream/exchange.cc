#include "proxy/stream/exchange.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "proxy/router/route_table.h"
#include "proxy/snapshot/snapshot.h"
#include "proxy/stats/traffic_stats.h"
#include "proxy/stream/worker_context.h"

namespace lb::stream {

using http::BodyFraming;
using http::ErrorCode;

namespace {

bool isIdempotent(const std::string& method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" ||
         method == "PUT" || method == "DELETE";
}

// The value of cookie `name` in any Cookie field, or empty.
std::string_view findCookie(const http::RequestHead& req, std::string_view name) {
  for (const auto& h : req.headers) {
    if (!http::equalsIgnoreCase(h.name, "cookie")) continue;
    std::string_view rest = h.value;
    while (!rest.empty()) {
      size_t semi = rest.find(';');
      std::string_view pair = rest.substr(0, semi);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      size_t eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == name) return pair.substr(eq + 1);
      if (semi == std::string_view::npos) break;
      rest.remove_prefix(semi + 1);
    }
  }
  return {};
}

}  // namespace

Exchange::Exchange(WorkerContext& worker, ExchangeClient& client)
    : worker_(worker), client_(&client) {}

Exchange::~Exchange() { release(false); }

void Exchange::reset() {
  release(false);
  timer_.cancel();
  req_ = nullptr;
  route_ = nullptr;
  cluster_ = nullptr;
  outcome_.tried.clear();
  outcome_.attempts = 0;
  outcome_.last_error = {};
  outcome_.status = 0;
  outcome_.upstream_host.clear();
  outcome_.upstream_time = {};
  outcome_.response_started = false;
  active_ = false;
  stale_retry_done_ = false;
  body_started_ = false;
  body_done_ = false;
  chunked_up_ = false;
  no_reuse_ = false;
  read_paused_ = false;
  upstream_closed_ = false;
}

void Exchange::start(const http::RequestHead& req, const http::ForwardContext& fwd,
                     const router::RouteEntry& route, WorkerCluster& cluster) {
  req_ = &req;
  fwd_ = fwd;
  route_ = &route;
  cluster_ = &cluster;
  active_ = true;
  body_done_ = req.framing == BodyFraming::kNone;
  chunked_up_ = req.framing == BodyFraming::kChunked;
  startAttempt();
}

void Exchange::startAttempt() {
  const http::RequestHead& req = *req_;
  upstream::PickContext ctx;
  ctx.tried = &outcome_.tried;
  if (cluster_->config->config.slow_start.count() > 0)
    ctx.now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     worker_.loop().now().time_since_epoch())
                     .count();
  const config::HashOn& hash_on = cluster_->config->config.hash_on;
  std::string_view key;
  if (!hash_on.header.empty()) {
    if (const std::string* v = req.find(hash_on.header)) key = *v;
  } else if (!hash_on.cookie.empty()) {
    key = findCookie(req, hash_on.cookie);
  }
  if (!key.empty()) {
    ctx.has_hash = true;
    ctx.hash = upstream::hashKey(key);
  }
  int index = cluster_->balancer->pick(ctx);
  if (index == upstream::LoadBalancer::kNoHost) {
    fail(outcome_.last_error ? outcome_.last_error
                             : http::upstreamError(ErrorCode::kNoHealthyHost, false,
                                                   "no usable host in the cluster"));
    return;
  }
  uint32_t host = static_cast<uint32_t>(index);
  outcome_.tried.push_back(host);
  ++outcome_.attempts;
  outcome_.upstream_host = cluster_->hosts[host].state->id;
  if (auto pooled = cluster_->locals[host]->pool.take()) {
    upstream_ = std::move(pooled);
    upstream_->setHostIndex(host);
    upstream_->setHandler(this);
    ++cluster_->locals[host]->load.active_requests;
    sendRequestHead();
    return;
  }
  connectTo(host);
}

void Exchange::connectTo(uint32_t host_index) {
  const upstream::HostState& host = *cluster_->hosts[host_index].state;
  auto* stream = new net::Stream(worker_.loop(), -1);
  upstream_ = std::make_unique<upstream::UpstreamConnection>(stream, host_index);
  upstream_->setHandler(this);
  ++cluster_->locals[host_index]->load.active_requests;
  upstream_started_at_ = worker_.loop().now();
  worker_.deadlines().start(timer_, cluster_->config->config.connect_timeout);
  if (stream->connect(reinterpret_cast<const sockaddr*>(&host.sockaddr), host.sockaddr_len) < 0) {
    onUpstreamEvent(BEV_EVENT_ERROR);
    return;
  }
  stream->enableRead();
}

void Exchange::onConnected() {
  upstream_->connected = true;
  timer_.cancel();
  int one = 1;
  setsockopt(upstream_->stream()->fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sendRequestHead();
}

void Exchange::sendRequestHead() {
  const http::RequestHead& req = *req_;
  upstream_->connected = true;
  upstream_->parser.reset(req.method == "HEAD");
  scratch_.clear();
  http::encodeUpstreamRequest(req, fwd_, &scratch_);
  net::Stream* up = upstream_->stream();
  up->setWriteLowWater(kLowWater);
  up->setReadHighWater(kHighWater);
  up->write(scratch_.data(), scratch_.size());
  up->enableRead();
  upstream_started_at_ = worker_.loop().now();
  worker_.deadlines().start(timer_, route_->timeout);
  if (!body_done_) client_->onRequestBodyWanted();
}

bool Exchange::bodyRoom() const {
  return upstream_ && upstream_->connected && upstream_->stream()->outputLength() < kHighWater;
}

void Exchange::sendBody(const char* data, size_t len) {
  if (!upstream_ || len == 0) return;
  net::Stream* out = upstream_->stream();
  body_started_ = true;
  if (chunked_up_) {
    scratch_.clear();
    http::appendChunkHeader(len, &scratch_);
    out->write(scratch_.data(), scratch_.size());
  }
  out->write(data, len);
  if (chunked_up_) out->write(http::kChunkEnd.data(), http::kChunkEnd.size());
}

void Exchange::endBody() {
  if (body_done_) return;
  body_done_ = true;
  if (upstream_ && chunked_up_) {
    upstream_->stream()->write(http::kLastChunk.data(), http::kLastChunk.size());
  }
}

void Exchange::onUpstreamWrite() {
  if (!body_done_ && upstream_ && upstream_->connected) client_->onRequestBodyWanted();
}

void Exchange::onUpstreamRead() {
  if (!upstream_) return;
  if (!read_paused_ && outcome_.response_started)
    worker_.deadlines().start(timer_, route_->timeout);  // stall timer
  readResponse();
}

void Exchange::readResponse() {
  if (!upstream_ || read_paused_) return;
  net::Stream* in = upstream_->stream();
  while (!outcome_.response_started) {
    const char* data;
    size_t len;
    if (!in->peekInput(&data, &len)) return;
    http::Http1HeadParser::Result r = upstream_->parser.feed(data, len);
    in->drainInput(r.consumed);
    if (r.status == http::Http1HeadParser::Status::kError) {
      fail(http::upstreamError(ErrorCode::kBadResponse, false, r.error.detail));
      return;
    }
    if (r.status == http::Http1HeadParser::Status::kDone && !handleResponseHead()) return;
  }
  while (!upstream_->body.done()) {
    if (client_->responseBacklog() >= kHighWater) {
      pauseRead(true);  // resumed by resumeResponse() below the low mark
      return;
    }
    const char* data;
    size_t len;
    if (!in->peekInput(&data, &len)) return;
    http::BodyDecoder::Step step = upstream_->body.decode(data, len);
    if (step.error) {
      fail(http::upstreamError(ErrorCode::kBadResponse, false, step.why));
      return;
    }
    if (step.data_len) {
      client_->onResponseData(data + step.data_offset, step.data_len);
      if (!active_) return;
    }
    in->drainInput(step.consumed);
  }
  finish();
}

bool Exchange::handleResponseHead() {
  http::ResponseHead& resp = upstream_->parser.response();
  if (resp.status < 200) {
    if (resp.status == 101) {
      fail(http::upstreamError(ErrorCode::kBadResponse, false, "unexpected 101 response"));
      return false;
    }
    upstream_->parser.reset(req_->method == "HEAD");  // informational: not forwarded
    return true;
  }
  worker_.deadlines().start(timer_, route_->timeout);  // from now on: the body read stall limit
  outcome_.upstream_time = worker_.loop().now() - upstream_started_at_;
  outcome_.status = resp.status;
  if (!client_->onResponseHead(resp)) return false;
  outcome_.response_started = true;
  upstream_->body.start(resp.framing, resp.content_length);
  return true;
}

void Exchange::onUpstreamEvent(short events) {
  if (!upstream_) return;
  if (events & BEV_EVENT_CONNECTED) {
    onConnected();
    return;
  }
  if (!upstream_->connected) {
    retryAfterConnectFailure("connect failed");
    return;
  }
  if (!outcome_.response_started && !upstream_->parser.started()) {
    // Closed before any response byte. A pooled connection may have been closed by the
    // backend just as we reused it: one retry on a fresh connection, if that is safe.
    if (upstream_->reused && !stale_retry_done_ && !body_started_ && isIdempotent(req_->method)) {
      stale_retry_done_ = true;
      uint32_t host = upstream_->hostIndex();
      timer_.cancel();
      release(false);
      connectTo(host);
      return;
    }
    fail(http::upstreamError(ErrorCode::kUpstreamReset, false,
                             "upstream closed the connection before responding"));
    return;
  }
  if (!outcome_.response_started) {
    fail(http::upstreamError(ErrorCode::kBadResponse, false,
                             "upstream closed the connection inside the response head"));
    return;
  }
  // Body in progress: the rest, if any, is in the input buffer. Take it now, or (when the
  // client is slow and reading is paused) once the client has drained its backlog.
  upstream_closed_ = true;
  if (read_paused_) {
    upstream_->stream()->disableRead();
    return;
  }
  readResponse();
  if (upstream_ && active_ && !read_paused_) endAfterClose();
}

void Exchange::endAfterClose() {
  // Everything buffered was delivered and the upstream is gone: an until-close body ends
  // here; any other body was cut short.
  if (upstream_->body.framing() == BodyFraming::kUntilClose)
    finish();
  else
    fail(http::upstreamError(ErrorCode::kUpstreamReset, false,
                             "upstream closed the connection mid-body"));
}

void Exchange::resumeResponse() {
  if (!read_paused_ || !upstream_) return;
  pauseRead(false);
  if (upstream_closed_) upstream_->stream()->disableRead();  // nothing more will come
  readResponse();
  if (upstream_closed_ && upstream_ && active_ && !read_paused_ &&
      upstream_->stream()->inputLength() == 0)
    endAfterClose();
}

void Exchange::finish() {
  timer_.cancel();
  bool reusable = upstream_ && !no_reuse_ && !upstream_closed_ &&
                  upstream_->parser.response().keep_alive &&
                  upstream_->body.framing() != BodyFraming::kUntilClose && body_done_ &&
                  upstream_->stream()->inputLength() == 0;
  release(reusable);
  active_ = false;
  client_->onResponseEnd();
}

void Exchange::onTimer(void* arg) { static_cast<Exchange*>(arg)->onTimeout(); }

void Exchange::onTimeout() {
  if (!upstream_) return;
  if (!upstream_->connected) {
    retryAfterConnectFailure("connect timeout");
    return;
  }
  fail(http::upstreamError(
      ErrorCode::kUpstreamTimeout, false,
      outcome_.response_started ? "upstream body stalled" : "upstream response timeout"));
}

void Exchange::fail(http::Error error) {
  if (!active_) return;
  outcome_.last_error = error;
  timer_.cancel();
  release(false);
  active_ = false;
  client_->onExchangeFailed(error);
}

void Exchange::abort() {
  timer_.cancel();
  release(false);
  active_ = false;
}

bool Exchange::usingHost(const upstream::HostState* host) const {
  return active_ && upstream_ && cluster_ && cluster_->hosts[upstream_->hostIndex()].state == host;
}

bool Exchange::abortIfUsing(const upstream::HostState* host) {
  if (!usingHost(host)) return false;
  fail(http::upstreamError(ErrorCode::kUpstreamReset, false,
                           "host drain deadline passed; request aborted"));
  return true;
}

void Exchange::release(bool reusable) {
  if (!upstream_) return;
  uint32_t host = upstream_->hostIndex();
  WorkerHost& local = *cluster_->locals[host];
  if (local.load.active_requests > 0) --local.load.active_requests;
  upstream_->setHandler(nullptr);
  read_paused_ = false;
  // A host out of rotation (drain, maint, removed) keeps no idle connection.
  if (reusable && !worker_.draining() &&
      local.state->admin.load(std::memory_order_relaxed) == upstream::AdminState::kReady) {
    local.pool.release(std::move(upstream_));
  } else {
    upstream_.reset();  // safe inside its callback: the stream defers the free
  }
}

void Exchange::pauseRead(bool pause) {
  if (pause == read_paused_ || !upstream_) return;
  read_paused_ = pause;
  if (pause) {
    upstream_->stream()->disableRead();
    timer_.cancel();  // a slow client is not a stalled backend
  } else {
    upstream_->stream()->enableRead();
    worker_.deadlines().start(timer_, route_->timeout);
  }
}

void Exchange::retryAfterConnectFailure(const char* why) {
  // Nothing reached the host: another host (or the same, by the balancer's choice) is safe.
  outcome_.last_error = http::upstreamError(ErrorCode::kConnectFailed, true, why);
  timer_.cancel();
  noteConnectFailure(upstream_->hostIndex());
  release(false);
  if (outcome_.attempts < cluster_->config->config.max_attempts)
    startAttempt();
  else
    fail(outcome_.last_error);
}

void Exchange::noteConnectFailure(uint32_t host_index) {
  WorkerHost& host = *cluster_->locals[host_index];
  auto now = worker_.loop().now();
  host.stats.recordUpstreamError(
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count(),
      stats::upstreamReasonIndex(ErrorCode::kConnectFailed));
  worker_.reportHostResult(host, cluster_->config->config.outlier_detection, false, true);
}

}  // namespace lb::stream
