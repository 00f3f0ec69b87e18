#include "proxy/stream/exchange.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "proxy/http/request_fields.h"
#include "proxy/router/route_table.h"
#include "proxy/snapshot/snapshot.h"
#include "proxy/stats/traffic_stats.h"
#include "proxy/stream/retry_policy.h"
#include "proxy/stream/worker_context.h"

namespace lb::stream {

using http::BodyFraming;
using http::ErrorCode;

Exchange::Exchange(WorkerContext& worker, ExchangeClient& client)
    : worker_(worker), client_(&client) {}

Exchange::~Exchange() {
  leaveQueue();
  release(false);
}

void Exchange::reset() {
  leaveQueue();
  woken_once_ = false;
  release(false);
  timer_.cancel();
  s_ = State{};
  held_body_.clear();
  if (held_body_.capacity() > kKeptBodyCapacity) std::string().swap(held_body_);
  static_cast<ExchangeCounts&>(outcome_) = ExchangeCounts{};
  outcome_.tried.clear();
  outcome_.upstream_host.clear();
}

void Exchange::start(const http::RequestHead& req, const http::ForwardContext& fwd,
                     const router::RouteEntry& route, WorkerCluster& cluster,
                     stats::TrafficStats* route_stats, uint64_t sticky_host) {
  s_.req = &req;
  s_.fwd = fwd;
  s_.route = &route;
  s_.cluster = &cluster;
  s_.active = true;
  s_.body_done = req.framing == BodyFraming::kNone;
  s_.chunked_up = req.framing == BodyFraming::kChunked;
  s_.upgrade = !fwd.upgrade.empty();
  s_.route_stats = route_stats;
  s_.sticky_host = sticky_host;
  // A body is kept while it may have to go out again: the route retries this request, and the
  // body is small enough (or of unknown size, until it grows past the limit).
  const config::RetryConfig& retry = route.retry;
  s_.hold_body =
      !s_.body_done && policyCovers(retry, req.method) &&
      !(req.framing == BodyFraming::kContentLength && req.content_length > retry.buffer_body);
  s_.resendable = s_.body_done || s_.hold_body;
  startAttempt();
}

void Exchange::startAttempt() {
  const http::RequestHead& req = *s_.req;
  upstream::PickContext ctx;
  ctx.tried = &outcome_.tried;
  if (s_.cluster->config->config.slow_start.count() > 0)
    ctx.now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     worker_.loop().now().time_since_epoch())
                     .count();
  const config::HashOn& hash_on = s_.cluster->config->config.hash_on;
  std::string_view key;
  if (!hash_on.header.empty()) {
    if (const std::string* v = req.find(hash_on.header)) key = *v;
  } else if (!hash_on.cookie.empty()) {
    key = http::findCookie(req, hash_on.cookie).value_or(std::string_view());
  }
  if (!key.empty()) {
    ctx.has_hash = true;
    ctx.hash = upstream::hashKey(key);
  }
  // Requests already waiting for room go first (FIFO): a newcomer queues behind them.
  if (s_.cluster->queued > 0 && outcome_.attempts == 0 && !woken_once_) {
    waitForRoom();
    return;
  }
  int index = stickyHost(ctx);
  if (index == upstream::LoadBalancer::kNoHost) index = s_.cluster->balancer->pick(ctx);
  if (index == upstream::LoadBalancer::kNoHost) {
    if (allHostsFull(ctx)) {
      waitForRoom();
      return;
    }
    fail(outcome_.last_error ? outcome_.last_error
                             : http::upstreamError(ErrorCode::kNoHealthyHost, false,
                                                   "no usable host in the cluster"));
    return;
  }
  uint32_t host = static_cast<uint32_t>(index);
  outcome_.tried.push_back(host);
  ++outcome_.attempts;
  outcome_.upstream_host = s_.cluster->hosts[host].state->id;
  if (auto pooled = s_.cluster->locals[host]->pool.take(s_.fwd.proxy_header)) {
    upstream_ = std::move(pooled);
    upstream_->setHostIndex(host);
    upstream_->setHandler(this);
    ++s_.cluster->locals[host]->load.active_requests;
    sendRequestHead();
    return;
  }
  connectTo(host);
}

int Exchange::stickyHost(const upstream::PickContext& ctx) const {
  if (!s_.sticky_host) return upstream::LoadBalancer::kNoHost;
  const std::vector<upstream::LbHost>& hosts = s_.cluster->hosts;
  for (uint32_t i = 0; i < hosts.size(); ++i)
    if (hosts[i].state->sticky_token == s_.sticky_host)
      return upstream::candidate(hosts, i, ctx) ? static_cast<int>(i)
                                                : upstream::LoadBalancer::kNoHost;
  return upstream::LoadBalancer::kNoHost;
}

void Exchange::connectTo(uint32_t host_index) {
  const upstream::HostState& host = *s_.cluster->hosts[host_index].state;
  WorkerHost& local = *s_.cluster->locals[host_index];
  // Under max_connections_per_host idle connections count too: one goes to make room.
  while (local.pool.idleCount() > 0 &&
         local.load.active_requests + local.pool.idleCount() >= local.max_connections)
    local.pool.closeOldest();
  auto* stream = new net::Stream(worker_.loop(), -1);
  upstream_ = std::make_unique<upstream::UpstreamConnection>(stream, host_index);
  upstream_->setHandler(this);
  ++s_.cluster->locals[host_index]->load.active_requests;
  s_.upstream_started_at = worker_.loop().now();
  // connect_timeout covers the TCP connect and the TLS handshake (as nginx's).
  worker_.deadlines().start(timer_, s_.cluster->config->config.connect_timeout);
  const auto* addr = reinterpret_cast<const sockaddr*>(&host.sockaddr);
  if (stream->connect(addr, host.sockaddr_len) < 0) {
    attemptFailed(http::upstreamError(ErrorCode::kConnectFailed, true, "connect failed"));
    return;
  }
  if (!s_.fwd.proxy_header.empty()) {
    // First on the wire once connected, in the clear before any TLS handshake.
    upstream_->proxy_header.assign(s_.fwd.proxy_header);
    stream->write(s_.fwd.proxy_header.data(), s_.fwd.proxy_header.size());
  }
  if (const auto& tls = s_.cluster->config->tls) {
    ssl_st* ssl = tls->newSession(addr, &s_.cluster->locals[host_index]->tls_sessions);
    if (!ssl) {
      attemptFailed(http::upstreamError(ErrorCode::kUpstreamTls, false, "no memory for TLS"));
      return;
    }
    stream->startTlsClient(ssl);
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
  const http::RequestHead& req = *s_.req;
  upstream_->connected = true;
  upstream_->parser.reset(req.method == "HEAD");
  scratch_.clear();
  http::encodeUpstreamRequest(req, s_.fwd, &scratch_);
  net::Stream* up = upstream_->stream();
  up->setWriteLowWater(kLowWater);
  up->setReadHighWater(kHighWater);
  up->write(scratch_.data(), scratch_.size());
  if (s_.resend_body) resendHeldBody();
  up->enableRead();
  s_.upstream_started_at = worker_.loop().now();
  worker_.deadlines().start(timer_, headTimeout());
  if (!s_.body_done) client_->onRequestBodyWanted();
}

void Exchange::resendHeldBody() {
  // What the client sent so far, again, framed for this connection; the rest follows from
  // the client as before.
  s_.resend_body = false;
  net::Stream* out = upstream_->stream();
  if (!held_body_.empty()) {
    if (s_.chunked_up) {
      scratch_.clear();
      http::appendChunkHeader(held_body_.size(), &scratch_);
      out->write(scratch_.data(), scratch_.size());
    }
    out->write(held_body_.data(), held_body_.size());
    if (s_.chunked_up) out->write(http::kChunkEnd.data(), http::kChunkEnd.size());
  }
  if (s_.body_done && s_.chunked_up) out->write(http::kLastChunk.data(), http::kLastChunk.size());
}

std::chrono::milliseconds Exchange::headTimeout() const {
  const config::Duration per_try = s_.route->retry.per_try_timeout;
  return per_try.count() > 0 ? per_try : s_.route->timeout;
}

void Exchange::sendBody(const char* data, size_t len) {
  if (!upstream_ || len == 0) return;
  net::Stream* out = upstream_->stream();
  s_.body_started = true;
  if (s_.hold_body) {
    if (held_body_.size() + len <= s_.route->retry.buffer_body) {
      held_body_.append(data, len);
    } else {  // too large to keep: this request is not sent again
      s_.hold_body = false;
      s_.resendable = false;
      held_body_.clear();
    }
  }
  if (s_.tunnel && !s_.read_paused) worker_.deadlines().start(timer_, stallLimit());
  if (s_.chunked_up) {
    scratch_.clear();
    http::appendChunkHeader(len, &scratch_);
    out->write(scratch_.data(), scratch_.size());
  }
  out->write(data, len);
  if (s_.chunked_up) out->write(http::kChunkEnd.data(), http::kChunkEnd.size());
  if (!s_.upstream_above && out->outputLength() >= kHighWater) {
    s_.upstream_above = true;
    client_->onUpstreamAboveHighWatermark();
  }
}

void Exchange::endBody() {
  if (s_.body_done) return;
  s_.body_done = true;
  if (upstream_ && s_.chunked_up) {
    upstream_->stream()->write(http::kLastChunk.data(), http::kLastChunk.size());
  }
  if (upstream_ && s_.tunnel) {
    // The client closed its sending side: so does the backend's, once what it sent is out.
    // The tunnel ends when the backend closes too.
    net::Stream* up = upstream_->stream();
    if (up->outputLength() == 0) {
      up->shutdownWrite();
    } else {
      s_.shutdown_pending = true;
      up->setWriteLowWater(0);
    }
  }
}

void Exchange::onUpstreamWrite() {
  // The stream calls this when a write left its output at or below the low mark.
  if (!upstream_) return;
  if (s_.shutdown_pending && upstream_->stream()->outputLength() == 0) {
    s_.shutdown_pending = false;
    upstream_->stream()->shutdownWrite();
  }
  if (!s_.upstream_above) return;
  s_.upstream_above = false;
  if (!s_.body_done && upstream_->connected) client_->onRequestBodyWanted();
}

std::chrono::milliseconds Exchange::stallLimit() const {
  return s_.tunnel ? s_.route->tunnel_idle_timeout : s_.route->timeout;
}

void Exchange::onUpstreamRead() {
  if (!upstream_) return;
  if (!s_.read_paused && outcome_.response_started)
    worker_.deadlines().start(timer_, stallLimit());  // stall timer, or a tunnel's idle timer
  readResponse();
}

void Exchange::readResponse() {
  if (!upstream_ || s_.read_paused) return;
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
    if (s_.client_above) {
      pauseRead(true);  // until onClientBelowLowWatermark()
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
      if (!s_.active) return;
    }
    in->drainInput(step.consumed);
  }
  finish();
}

bool Exchange::handleResponseHead() {
  http::ResponseHead& resp = upstream_->parser.response();
  if (resp.status < 200) {
    if (resp.status == 101) return switchProtocols(resp);
    upstream_->parser.reset(s_.req->method == "HEAD");  // informational: not forwarded
    return true;
  }
  if (retryOnStatus(s_.route->retry, resp.status) && mayRetry()) {
    noteRetriedAttempt(resp.status, nullptr);
    retryElsewhere();
    return false;
  }
  // The answer is the client's: nothing of this request is sent again.
  s_.hold_body = false;
  held_body_.clear();
  worker_.deadlines().start(timer_, s_.route->timeout);  // from now on: the body read stall limit
  outcome_.upstream_time = worker_.loop().now() - s_.upstream_started_at;
  outcome_.status = resp.status;
  // The backend's framing: the client may send the body on another (a coded body).
  const BodyFraming framing = resp.framing;
  const uint64_t content_length = resp.content_length;
  if (!client_->onResponseHead(resp)) return false;
  outcome_.response_started = true;
  upstream_->body.start(framing, content_length);
  return true;
}

bool Exchange::switchProtocols(http::ResponseHead& resp) {
  // A 101 the request did not ask for, or one that does not say what it switched to, would
  // leave the connection in a protocol nobody agreed on (RFC 9110 15.2.2).
  if (!s_.upgrade) {
    fail(http::upstreamError(ErrorCode::kBadResponse, false, "unexpected 101 response"));
    return false;
  }
  if (!resp.find("upgrade")) {
    fail(http::upstreamError(ErrorCode::kBadResponse, false, "101 response without Upgrade"));
    return false;
  }
  outcome_.upstream_time = worker_.loop().now() - s_.upstream_started_at;
  outcome_.status = resp.status;
  if (!client_->onResponseHead(resp)) return false;
  outcome_.response_started = true;
  // From here on both directions carry raw bytes; the connection is never pooled again.
  s_.hold_body = false;
  s_.tunnel = true;
  s_.no_reuse = true;
  s_.body_done = false;
  s_.chunked_up = false;
  upstream_->body.start(BodyFraming::kUntilClose, 0);
  worker_.deadlines().start(timer_, stallLimit());
  client_->onRequestBodyWanted();
  return s_.active;
}

void Exchange::onUpstreamEvent(net::StreamEvent event) {
  if (!upstream_) return;
  if (event == net::StreamEvent::kConnected) {
    onConnected();
    return;
  }
  const char* tls_failure = upstream_->stream()->tlsFailure();
  if (!upstream_->connected) {
    attemptFailed(tls_failure
                      ? http::upstreamError(ErrorCode::kUpstreamTls, true, tls_failure)
                      : http::upstreamError(ErrorCode::kConnectFailed, true, "connect failed"));
    return;
  }
  if (tls_failure && !upstream_->parser.started()) {
    // The handshake completed on our side, then the backend refused the session (in TLS 1.3 a
    // backend checks our client certificate after our Finished): the request went out, so it
    // is not sent again.
    noteConnectFailure(upstream_->hostIndex(), ErrorCode::kUpstreamTls);
    fail(http::upstreamError(ErrorCode::kUpstreamTls, false, tls_failure));
    return;
  }
  if (!outcome_.response_started && !upstream_->parser.started()) {
    // Closed before any response byte. A pooled connection may have been closed by the
    // backend just as we reused it: safe to send again, once, when the request is idempotent
    // and none of its body went out.
    const bool safe = upstream_->reused && !s_.stale_retry_done && !s_.body_started &&
                      isIdempotent(s_.req->method);
    http::Error reset = http::upstreamError(ErrorCode::kUpstreamReset, safe,
                                            "upstream closed the connection before responding");
    if (!safe && s_.route->retry.on_reset && mayRetry()) {
      noteRetriedAttempt(0, &reset);
      retryElsewhere();
      return;
    }
    attemptFailed(reset);
    return;
  }
  if (!outcome_.response_started) {
    fail(http::upstreamError(ErrorCode::kBadResponse, false,
                             "upstream closed the connection inside the response head"));
    return;
  }
  // Body in progress: the rest, if any, is in the input buffer. Take it now, or (when the
  // client is slow and reading is paused) once the client has drained its backlog.
  s_.upstream_closed = true;
  if (s_.read_paused) {
    upstream_->stream()->disableRead();
    return;
  }
  readResponse();
  if (upstream_ && s_.active && !s_.read_paused) endAfterClose();
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

void Exchange::onClientAboveHighWatermark() { s_.client_above = true; }

void Exchange::onClientBelowLowWatermark() {
  s_.client_above = false;
  if (!s_.read_paused || !upstream_) return;
  pauseRead(false);
  if (s_.upstream_closed) upstream_->stream()->disableRead();  // nothing more will come
  readResponse();
  if (s_.upstream_closed && upstream_ && s_.active && !s_.read_paused &&
      upstream_->stream()->inputLength() == 0)
    endAfterClose();
}

void Exchange::finish() {
  timer_.cancel();
  bool reusable = upstream_ && !s_.no_reuse && !s_.upstream_closed &&
                  upstream_->parser.response().keep_alive &&
                  upstream_->body.framing() != BodyFraming::kUntilClose && s_.body_done &&
                  upstream_->stream()->inputLength() == 0;
  release(reusable);
  s_.active = false;
  client_->onResponseEnd();
}

void Exchange::onTimer(void* arg) noexcept { static_cast<Exchange*>(arg)->onTimeout(); }

void Exchange::onTimeout() {
  if (queued_) {
    fail(http::upstreamError(ErrorCode::kOverloaded, false,
                             "every host at its limit for the whole queue timeout"));
    return;
  }
  if (!upstream_) return;
  if (!upstream_->connected) {
    attemptFailed(upstream_->stream()->tlsHandshaking()
                      ? http::upstreamError(ErrorCode::kUpstreamTls, true, "TLS handshake timeout")
                      : http::upstreamError(ErrorCode::kConnectFailed, true, "connect timeout"));
    return;
  }
  if (s_.tunnel) {
    finish();  // an idle tunnel ends like a closed one: both sides are closed cleanly
    return;
  }
  if (!outcome_.response_started && s_.route->retry.on_timeout && mayRetry()) {
    const http::Error timeout =
        http::upstreamError(ErrorCode::kUpstreamTimeout, true, "upstream response timeout");
    noteRetriedAttempt(0, &timeout);
    retryElsewhere();
    return;
  }
  fail(http::upstreamError(
      ErrorCode::kUpstreamTimeout, false,
      outcome_.response_started ? "upstream body stalled" : "upstream response timeout"));
}

void Exchange::fail(http::Error error) {
  if (!s_.active) return;
  leaveQueue();
  outcome_.last_error = error;
  timer_.cancel();
  release(false);
  s_.active = false;
  client_->onExchangeFailed(error);
}

void Exchange::abort() {
  leaveQueue();
  timer_.cancel();
  release(false);
  s_.active = false;
}

bool Exchange::usingHost(const upstream::HostState* host) const {
  return s_.active && upstream_ && s_.cluster &&
         s_.cluster->hosts[upstream_->hostIndex()].state == host;
}

bool Exchange::abortIfUsing(const upstream::HostState* host) {
  if (!usingHost(host)) return false;
  fail(http::upstreamError(ErrorCode::kUpstreamReset, false,
                           "host drain deadline passed; request aborted"));
  return true;
}

void Exchange::release(bool reusable) {
  if (s_.retry_slot) {  // the retry in flight ends with its attempt
    s_.retry_slot = false;
    if (s_.cluster->active_retries > 0) --s_.cluster->active_retries;
  }
  if (!upstream_) return;
  uint32_t host = upstream_->hostIndex();
  WorkerHost& local = *s_.cluster->locals[host];
  if (local.load.active_requests > 0) --local.load.active_requests;
  // Room for the oldest waiting here, else for one waiting in a cluster or subset that
  // shares this host.
  if (s_.cluster->queue_head)
    wakeFirstQueued(*s_.cluster);
  else if (!s_.cluster->sharing.empty())
    wakeSharing(local.state.get());
  upstream_->setHandler(nullptr);
  if (s_.read_paused) upstream_->stream()->readDisable(false);  // the pool reads idle streams
  s_.read_paused = false;
  s_.upstream_above = false;
  // A host out of rotation (drain, maint, removed) keeps no idle connection, and neither does
  // one whose TLS settings changed since this request's view.
  if (reusable && !worker_.draining() && local.tls_context == s_.cluster->config->tls &&
      local.state->admin.load(std::memory_order_relaxed) == upstream::AdminState::kReady) {
    local.pool.release(std::move(upstream_));
  } else {
    upstream_.reset();  // safe inside its callback: the stream defers the free
  }
}

void Exchange::pauseRead(bool pause) {
  if (pause == s_.read_paused || !upstream_) return;
  s_.read_paused = pause;
  upstream_->stream()->readDisable(pause);
  if (pause) {
    timer_.cancel();  // a slow client is not a stalled backend
  } else {
    worker_.deadlines().start(timer_, stallLimit());
  }
}

void Exchange::attemptFailed(http::Error error) {
  // The one place that decides on another attempt: the error's retry bit says whether the
  // request may be sent again; its code says how.
  if (!error.retryable || !upstream_) {
    fail(error);
    return;
  }
  const uint32_t host = upstream_->hostIndex();
  timer_.cancel();
  if (error.code == ErrorCode::kConnectFailed || error.code == ErrorCode::kUpstreamTls) {
    // Nothing reached the host: another host (or the same, by the balancer's choice), within
    // the cluster's attempts.
    outcome_.last_error = error;
    noteConnectFailure(host, error.code);
    release(false);
    if (outcome_.attempts < s_.cluster->config->config.max_attempts)
      startAttempt();
    else
      fail(error);
    return;
  }
  // A pooled connection the backend had closed: the same host on a fresh connection, once,
  // not counted as an attempt.
  s_.stale_retry_done = true;
  release(false);
  connectTo(host);
}

bool Exchange::allHostsFull(const upstream::PickContext& ctx) const {
  // No host was picked: is one usable and untried, only at its limit? Then the request waits.
  bool full = false;
  for (uint32_t i = 0; i < s_.cluster->hosts.size(); ++i) {
    const upstream::LbHost& h = s_.cluster->hosts[i];
    if (!h.state->usable() || ctx.wasTried(i)) continue;
    if (h.load->hasRoom()) return false;  // a host with room (the queue is ahead of it)
    full = true;
  }
  return full;
}

void Exchange::waitForRoom() {
  WorkerCluster& c = *s_.cluster;
  if (c.queued >= c.max_queued) {
    fail(http::upstreamError(
        ErrorCode::kOverloaded, false,
        c.max_queued ? "every host at its limit and the queue full" : "every host at its limit"));
    return;
  }
  // Oldest first; one woken that found no room after all goes back to the front.
  queued_ = true;
  ++c.queued;
  if (woken_once_) {
    queue_next_ = c.queue_head;
    if (c.queue_head) c.queue_head->queue_prev_ = this;
    c.queue_head = this;
    if (!c.queue_tail) c.queue_tail = this;
  } else {
    s_.queued_at = worker_.loop().now();
    queue_prev_ = c.queue_tail;
    if (c.queue_tail) c.queue_tail->queue_next_ = this;
    c.queue_tail = this;
    if (!c.queue_head) c.queue_head = this;
    worker_.deadlines().start(timer_, c.config->config.limits.queue_timeout);
  }
}

void Exchange::unlink() {
  WorkerCluster& c = *s_.cluster;
  (queue_prev_ ? queue_prev_->queue_next_ : c.queue_head) = queue_next_;
  (queue_next_ ? queue_next_->queue_prev_ : c.queue_tail) = queue_prev_;
  queue_prev_ = queue_next_ = nullptr;
  queued_ = false;
  --c.queued;
  outcome_.queue_time = worker_.loop().now() - s_.queued_at;  // since it first queued
}

void Exchange::leaveQueue() {
  if (queued_) unlink();
  if (wake_pending_) {
    // Woken for room it will not use now: the room goes to the next one waiting.
    worker_.loop().cancelCall(onWakeCb, this);
    wake_pending_ = false;
    if (s_.cluster->queue_head) wakeFirstQueued(*s_.cluster);
  }
}

void Exchange::wakeSharing(const upstream::HostState* host) {
  for (WorkerCluster* other : s_.cluster->sharing) {
    if (!other->queue_head) continue;
    for (const upstream::LbHost& h : other->hosts) {
      if (h.state == host) {
        wakeFirstQueued(*other);
        return;
      }
    }
  }
}

void Exchange::wakeFirstQueued(WorkerCluster& cluster) {
  // Taken off the queue now, started at the end of this turn (not inside the callback of the
  // exchange that made the room); it keeps its queue timer running meanwhile.
  Exchange* first = cluster.queue_head;
  first->unlink();
  first->wake_pending_ = true;
  first->woken_once_ = true;
  worker_.loop().deferCall(onWakeCb, first);
}

void Exchange::onWakeCb(void* arg) noexcept {
  auto* self = static_cast<Exchange*>(arg);
  self->wake_pending_ = false;
  self->startAttempt();
}

bool Exchange::mayRetry() {
  if (!policyCovers(s_.route->retry, s_.req->method) || !s_.resendable || s_.tunnel) return false;
  if (outcome_.attempts >= s_.cluster->config->config.max_attempts) return false;
  // Another host must be there to take it; else the answer in hand is the best there is.
  upstream::PickContext ctx;
  ctx.tried = &outcome_.tried;
  bool another = false;
  for (uint32_t i = 0; i < s_.cluster->hosts.size() && !another; ++i)
    another = upstream::candidate(s_.cluster->hosts, i, ctx);
  if (!another) return false;
  uint32_t active = 0;
  for (const auto& local : s_.cluster->locals) active += local->load.active_requests;
  const uint32_t retries = s_.cluster->active_retries - (s_.retry_slot ? 1 : 0);
  if (!budgetAllows(s_.cluster->config->config.retry_budget, active, retries)) {
    if (s_.route_stats)
      s_.route_stats->recordRetryRefused(
          std::chrono::duration_cast<std::chrono::seconds>(worker_.loop().now().time_since_epoch())
              .count());
    return false;
  }
  return true;
}

void Exchange::noteRetriedAttempt(int status, const http::Error* error) {
  // The host answered (or failed) this attempt: its statistics and outlier detection hear of
  // it now, as they would had it been the last.
  WorkerHost& host = *s_.cluster->locals[upstream_->hostIndex()];
  const auto now = worker_.loop().now();
  const int64_t second =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (s_.route_stats) {
    const auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(now - s_.upstream_started_at).count();
    if (error)
      host.stats.recordUpstreamError(second, stats::upstreamReasonIndex(error->code));
    else
      host.stats.recordRequest(second, status, static_cast<uint64_t>(micros), -1, 0);
  }
  if (error) outcome_.last_error = *error;
  worker_.reportHostResult(host, s_.cluster->config->config.outlier_detection,
                           error || status >= 500, false);
}

void Exchange::retryElsewhere() {
  timer_.cancel();
  release(false);  // the failed answer goes with its connection
  ++s_.cluster->active_retries;
  s_.retry_slot = true;
  s_.resend_body = s_.req->framing != BodyFraming::kNone;
  startAttempt();
}

void Exchange::noteConnectFailure(uint32_t host_index, ErrorCode code) {
  WorkerHost& host = *s_.cluster->locals[host_index];
  auto now = worker_.loop().now();
  host.stats.recordUpstreamError(
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count(),
      stats::upstreamReasonIndex(code));
  worker_.reportHostResult(host, s_.cluster->config->config.outlier_detection, false, true);
}

}  // namespace lb::stream
