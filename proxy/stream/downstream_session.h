// One client connection and the request in flight on it. Requests on a keep-alive connection
// are served one after another, so pipelined responses leave in order; bytes of the next
// request wait in the input buffer (bounded by its read watermark). The request's state
// (parser, exchange, bookkeeping) is borrowed from the worker's pool from its first byte to
// the end of its response: an idle connection holds only what is below.
//
// Owner: the worker thread that accepted the connection. Created by Worker::onAccept, deleted
// by the worker at the end of the loop turn after close.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/deadline_queue.h"
#include "proxy/http/error.h"
#include "proxy/net/proxy_protocol.h"
#include "proxy/net/stream.h"
#include "proxy/stats/listener_counters.h"
#include "proxy/stream/active_request.h"
#include "proxy/stream/client_addresses.h"
#include "proxy/stream/client_connection.h"

namespace lb::upstream {
struct HostState;
}

namespace lb::tls {
class ServerContext;
}

namespace lb::snapshot {
struct Snapshot;
struct ListenerSnapshot;
}  // namespace lb::snapshot

namespace lb::stream {

class WorkerContext;
struct WorkerCluster;
struct WorkerView;

struct Http1Request;

// Downstream first: the request calls it several times per request, the worker rarely calls
// ClientConnection, so the calls that need no this-adjusting thunk are the frequent ones.
class DownstreamSession final : private Downstream, public ClientConnection {
 public:
  DownstreamSession(WorkerContext& worker, uint32_t listener_index, int fd, const sockaddr* peer);
  ~DownstreamSession() override;

  void start();
  // Graceful shutdown: idle connections close now; a request in flight finishes and its
  // response carries Connection: close.
  void beginShutdown() override;
  // Shutdown deadline or worker exit: close now, whatever is in flight.
  void forceClose() override;
  // The worker switched to a new view: if this connection's listener is gone, it closes
  // after the request in flight. The next request on it uses the new view.
  void onViewChanged() override;
  // A drain deadline passed for `host`: a request in flight to it ends now.
  void abortIfUsing(const upstream::HostState* host) override;

 private:
  enum class State { kProxyHeader, kHandshaking, kReadingHead, kProxying, kLingering, kClosed };

  static void onReadCb(net::Stream*, void* arg) noexcept;
  static void onWriteCb(net::Stream*, void* arg) noexcept;
  static void onEventCb(net::Stream*, net::StreamEvent event, void* arg) noexcept;
  static void onTimeoutCb(void* arg) noexcept;

  // After the PROXY header (if the listener wants one): TLS, or the first request head.
  void beginConnection();
  bool trustedPeer() const;
  static void onProxyHeaderCb(void* arg, const net::ProxyParse& result) noexcept;
  void onProxyHeader(const net::ProxyParse& result);
  void onDownRead();
  void onDownWrite();
  void onDownEvent(net::StreamEvent event);

  // Downstream: the request in flight encodes its response through these.
  Info info() const override;
  void onBodyWanted() override;
  void onUpstreamFull() override;
  http::Error encodeHead(const http::ResponseHead& resp, std::string_view request_id,
                         bool closes) override;
  void encodeData(const char* data, size_t len) override;
  void encodeEnd() override;
  void encodeReset() override;
  void onRequestComplete() override;

  void processInput();
  void handleRequestHead();
  void pumpRequestBody();
  void pumpTunnel();
  void onDownTimeout();
  void onHandshakeDone();
  // ALPN chose h2, or a cleartext connection began with the HTTP/2 preface: an H2Session
  // takes the stream over and this session ends.
  void handOverToH2();
  void refuseAsH2Preface();
  // 1: the input starts with the HTTP/2 preface; 0: it cannot; -1: too short to tell.
  int startsWithH2Preface() const;

  void startNextRequest();
  void closeGracefully();  // flush what is queued, then close (lingering)
  void close();
  // Back to the pool with the request's state (its exchange is aborted).
  void releaseRequest();
  bool requestStarted() const;  // a byte of a request head arrived since the last request
  void pauseDownstreamRead(bool pause);

  WorkerContext& worker_;
  uint32_t listener_index_;
  std::shared_ptr<WorkerView> view_;            // pinned per request
  const snapshot::ListenerSnapshot* listener_;  // in view_
  net::Stream* down_;
  ClientAddresses client_;  // the peer's, or the ones its PROXY header carried
  std::unique_ptr<net::ProxyHeaderReader> proxy_reader_;  // while the PROXY header is read
  stats::ListenerCounters& counters_;
  std::shared_ptr<const tls::ServerContext> tls_;  // kept for the connection's life
  std::unique_ptr<Http1Request> req_;              // the request in progress, from the pool
  // Handshake, request head deadline, keep-alive idle, lingering.
  common::DeadlineQueue::Entry down_timer_;
  State state_ = State::kReadingHead;
  stats::TlsVersion tls_version_ = stats::TlsVersion::kNone;
  bool head_timer_running_ = false;
  bool served_any_ = false;  // a request was read on this connection (no h2c preface now)
  bool shutting_down_ = false;
  // A request whose framing some servers read differently (a body on GET or HEAD) is
  // forwarded with clean framing, then neither connection carries another request.
  bool close_after_response_ = false;
  bool downstream_read_paused_ = false;  // one readDisable held for the upstream's buffer
  bool down_above_ = false;              // the response buffer passed the high mark
  bool client_eof_ = false;              // the client closed its sending side
};

}  // namespace lb::stream
