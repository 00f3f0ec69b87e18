// One request's trip upstream, whatever protocol the client speaks: choosing a host (the
// cluster's balancer, hash keys, hosts already tried), a pooled or new connection, connect and
// response timeouts, retries decided from the failed attempt's error (attemptFailed), the
// rebuilt HTTP/1.1 request head, relaying the request body with upstream framing, reading and
// de-framing the response with backpressure, and returning the connection to the pool. Its
// client is the ActiveRequest that owns it (active_request.h), which implements ExchangeClient
// and hands the response to the protocol's connection.
//
// Owner: the worker thread of the client connection. The ActiveRequest owns the Exchange and
// keeps it for its next request after reset(); it may call abort() at any time. Callbacks
// into the client never come after abort(), and the client must not destroy the Exchange
// from inside one of them.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/deadline_queue.h"
#include "common/event_loop.h"
#include "proxy/http/error.h"
#include "proxy/http/http1_encoder.h"
#include "proxy/http/message.h"
#include "proxy/upstream/connection_pool.h"

namespace lb::router {
struct RouteEntry;
}

namespace lb::upstream {
struct HostState;
struct PickContext;
}  // namespace lb::upstream

namespace lb::stats {
class TrafficStats;
}

namespace lb::stream {

class WorkerContext;
struct WorkerCluster;

// Buffer marks shared by both sides. The owner of a buffer tells its producer when the buffer
// crosses them (above the high mark: stop; below the low mark after that: go on), and the
// producer holds its stream's reading off in between (net::Stream::readDisable).
inline constexpr size_t kHighWater = 256 * 1024;
inline constexpr size_t kLowWater = 64 * 1024;

class ExchangeClient {
 public:
  // The upstream connection can take request body now: call Exchange::sendBody() with what is
  // at hand while Exchange::bodyRoom() holds, and Exchange::endBody() after the last byte.
  // Called once connected, and again when the upstream output, after it passed the high mark,
  // drained below the low mark.
  virtual void onRequestBodyWanted() = 0;
  // The upstream output passed the high mark: stop reading request body from the client until
  // onRequestBodyWanted() (bodyRoom() is false meanwhile).
  virtual void onUpstreamAboveHighWatermark() = 0;
  // The final response head (status >= 200), or a 101 that switched the connection to a tunnel
  // (only for a request that asked for an upgrade): from then on request "body" and response
  // "data" are the tunnel's raw bytes, and endBody() says the client closed its side. The
  // client may add or remove fields, and change the framing it sends the body on (a coded
  // body has no length), before it sends the head on (the head is the upstream connection's,
  // parsed afresh for its next response; the body is read by the framing the backend sent,
  // taken before this call). Return false when the client failed
  // the request instead (it has called Exchange::abort()).
  virtual bool onResponseHead(http::ResponseHead& resp) = 0;
  // De-framed response body bytes.
  virtual void onResponseData(const char* data, size_t len) = 0;
  // The whole response body was delivered; the upstream connection is already released.
  virtual void onResponseEnd() = 0;
  // The exchange failed. Before onResponseHead the client answers with an error status for
  // `error`; after it, the client must cut the response (the only honest signal left).
  virtual void onExchangeFailed(const http::Error& error) = 0;

 protected:
  ~ExchangeClient() = default;
};

// What statistics and the access log need from an exchange, kept after it ends.
// The scalars are a base of their own so that a reset assigns them by value while the vector
// and the string keep their capacity (no allocation per request).
struct ExchangeCounts {
  uint32_t attempts = 0;
  http::Error last_error;
  int status = 0;  // the upstream's final status, once its head arrived
  std::chrono::steady_clock::duration upstream_time{};
  // Waiting in the cluster's queue for a host with room (connection caps), in all.
  std::chrono::steady_clock::duration queue_time{};
  bool response_started = false;  // onResponseHead returned true
};
struct ExchangeOutcome : ExchangeCounts {
  std::vector<uint32_t> tried;  // host indices in the cluster, in order
  std::string upstream_host;
};

class Exchange final : public upstream::UpstreamHandler {
 public:
  // `client` is told of the exchange's progress for every request it carries.
  Exchange(WorkerContext& worker, ExchangeClient& client);
  ~Exchange();
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // Starts the request. `req` and the strings behind `fwd` must stay valid until the exchange
  // ends. A request whose framing is not kNone has a body: sendBody()/endBody() follow.
  // `route_stats` (null when metrics are off) counts retries the budget refused.
  // `sticky_host` (a HostState::sticky_token; 0: none) is tried first when it is usable with
  // room (sticky sessions); else, and for every retry, the balancer picks.
  void start(const http::RequestHead& req, const http::ForwardContext& fwd,
             const router::RouteEntry& route, WorkerCluster& cluster,
             stats::TrafficStats* route_stats, uint64_t sticky_host = 0);
  // Request body, already de-framed by the client; re-framed here for the upstream.
  void sendBody(const char* data, size_t len);
  void endBody();
  // Connected, and the upstream output has not passed the high mark (or drained since).
  bool bodyRoom() const { return upstream_ && upstream_->connected && !s_.upstream_above; }
  bool upstreamReady() const { return upstream_ && upstream_->connected; }
  bool bodyDone() const { return s_.body_done; }
  // Neither connection may carry another request after this one (ambiguous framing).
  void setNoReuse() { s_.no_reuse = true; }
  // The backend answered 101: the exchange is a byte tunnel until either side closes or it
  // idles for the route's tunnel_idle_timeout.
  bool tunnel() const { return s_.tunnel; }
  // The client's buffer crossed its marks (the client connection owns it and tells): above
  // the high mark the exchange stops reading upstream, below the low mark it reads again. A
  // buffer already above when the request starts is told before start().
  void onClientAboveHighWatermark();
  void onClientBelowLowWatermark();
  // Ends the exchange now without calling the client: the upstream connection is closed.
  void abort();
  // Ends a request in flight to `host` (a drain deadline passed): fails it through the client.
  bool abortIfUsing(const upstream::HostState* host);
  bool active() const { return s_.active; }
  // Waiting for a host with room (cluster limits): nothing has gone upstream yet.
  bool waitingForRoom() const { return queued_ || wake_pending_; }
  bool usingHost(const upstream::HostState* host) const;
  const ExchangeOutcome& outcome() const { return outcome_; }
  // Forget the last request (keeps allocated capacity).
  void reset();

 private:
  void onUpstreamRead() override;
  void onUpstreamWrite() override;
  void onUpstreamEvent(net::StreamEvent event) override;

  void startAttempt();
  // The sticky host's index when it may take this attempt, else LoadBalancer::kNoHost.
  int stickyHost(const upstream::PickContext& ctx) const;
  void connectTo(uint32_t host_index);
  void onConnected();
  void sendRequestHead();
  void readResponse();
  bool handleResponseHead();
  bool switchProtocols(http::ResponseHead& resp);
  // How long the response body (or a tunnel) may go without a byte.
  std::chrono::milliseconds stallLimit() const;
  void finish();
  void endAfterClose();
  void fail(http::Error error);
  static void onTimer(void* arg) noexcept;
  void onTimeout();
  void release(bool reusable);
  void pauseRead(bool pause);
  // An attempt failed: another one if `error` is retryable and the attempts allow, else fail().
  void attemptFailed(http::Error error);
  // A failure before the request reached the host (connect or TLS): counted on the host now,
  // and reported to outlier detection as a connect failure.
  void noteConnectFailure(uint32_t host_index, http::ErrorCode code);
  // Limits (docs/limits.md): no host was picked because every usable one is at its limit
  // (or others wait already); waitForRoom() queues the request or fails it with 503.
  bool allHostsFull(const upstream::PickContext& ctx) const;
  void waitForRoom();
  void unlink();
  void leaveQueue();
  void wakeFirstQueued(WorkerCluster& cluster);
  // Room freed on `host`: wakes the oldest request of a sharing cluster or subset that has it.
  void wakeSharing(const upstream::HostState* host);
  static void onWakeCb(void* arg) noexcept;
  // The route's retry policy (retry_policy.h): may this request go to another host now?
  bool mayRetry();
  // This attempt's host answered `status` (or failed with `error`) and the request goes on.
  void noteRetriedAttempt(int status, const http::Error* error);
  // Closes this attempt and starts the next on a host not tried yet, holding a budget slot.
  void retryElsewhere();
  void resendHeldBody();
  // How long an attempt waits for its response head.
  std::chrono::milliseconds headTimeout() const;

  // A held body larger than this is freed at reset rather than kept for the next request.
  static constexpr size_t kKeptBodyCapacity = 16 * 1024;

  WorkerContext& worker_;
  ExchangeClient* const client_;
  // Connect timeout, response timeout, body read stall; in the worker's queue (one per
  // duration: O(1) to restart, where a libevent timer is a heap operation each time).
  common::DeadlineQueue::Entry timer_{onTimer, this};
  std::unique_ptr<upstream::UpstreamConnection> upstream_;
  // Everything one request changes but the outcome, reset by value.
  struct State {
    const http::RequestHead* req = nullptr;
    http::ForwardContext fwd;
    const router::RouteEntry* route = nullptr;
    WorkerCluster* cluster = nullptr;
    bool active = false;
    bool stale_retry_done = false;
    bool body_started = false;  // request body bytes went upstream: no retry from here
    bool body_done = false;
    bool chunked_up = false;  // the request body goes upstream chunked
    bool no_reuse = false;
    bool read_paused = false;       // upstream reading held off for the client (readDisable)
    bool client_above = false;      // the client's buffer is above the high mark
    bool upstream_above = false;    // the upstream output passed the high mark
    bool upstream_closed = false;   // EOF while the response body was in progress
    bool upgrade = false;           // the request asks the backend for an upgrade
    bool tunnel = false;            // ...and it switched protocols: raw bytes both ways
    bool shutdown_pending = false;  // the client closed its side: FIN upstream once flushed
    bool hold_body = false;         // the body sent so far is kept in held_body_
    bool resendable = false;        // all of the body is held (or there is none)
    bool resend_body = false;       // the next attempt sends held_body_ after its head
    bool retry_slot = false;        // this attempt counts in the cluster's active_retries
    uint64_t sticky_host = 0;
    stats::TrafficStats* route_stats = nullptr;
    std::chrono::steady_clock::time_point upstream_started_at;
    std::chrono::steady_clock::time_point queued_at;  // first put in the cluster's queue
  };
  State s_;
  ExchangeOutcome outcome_;
  std::string scratch_;
  std::string held_body_;  // the request body sent so far, while it may be sent again
  // The cluster's queue of requests waiting for a host with room (WorkerCluster::queue_head).
  Exchange* queue_prev_ = nullptr;
  Exchange* queue_next_ = nullptr;
  bool queued_ = false;
  bool wake_pending_ = false;  // taken off the queue, to start at the end of the turn
  bool woken_once_ = false;    // back to the front of the queue if still no room
};

}  // namespace lb::stream
