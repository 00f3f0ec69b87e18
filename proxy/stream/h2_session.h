// One HTTP/2 client connection (nghttp2 server session): over TLS after ALPN chose "h2", or in
// cleartext after the connection preface (h2c with prior knowledge). Each stream becomes an
// HTTP/1.1-shaped RequestHead and goes through the same routing, balancing, retries, timeouts
// and access log as an HTTP/1.1 request (an Exchange per stream).
//
// Flow control follows backpressure: automatic window updates are off, and a stream's window
// (and the connection's) opens only as its body is handed to the upstream connection.
//
// Abuse limits (docs/http2.md): concurrent streams, decoded header list size and count,
// nghttp2's reset-rate and CONTINUATION limits, a premature-reset ratio, a control-frame budget
// (PING, SETTINGS, PRIORITY, WINDOW_UPDATE, empty DATA), requests per connection, stream idle
// timeout. A stream reset in the same read as its HEADERS never reaches a host: requests are
// dispatched after the whole read was processed.
//
// Owner: the worker thread. Created by a DownstreamSession that hands over its Stream; deleted
// by the worker after close.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/deadline_queue.h"
#include "common/event_loop.h"
#include "proxy/http/message.h"
#include "proxy/net/stream.h"
#include "proxy/stats/listener_counters.h"
#include "proxy/stream/client_addresses.h"
#include "proxy/stream/client_connection.h"

struct nghttp2_session;

namespace lb::snapshot {
struct ListenerSnapshot;
}

namespace lb::tls {
class ServerContext;
}

namespace lb::stream {

class WorkerContext;
struct WorkerView;

class H2Stream;

class H2Session final : public ClientConnection {
 public:
  struct Origin {
    std::shared_ptr<WorkerView> view;  // the view listener_index refers to
    uint32_t listener_index = 0;
    ClientAddresses client;
    std::shared_ptr<const tls::ServerContext> tls;  // kept for the connection's life
    stats::TlsVersion tls_version = stats::TlsVersion::kNone;
  };
  // Takes over `down` (its input may already hold the client preface and frames).
  H2Session(WorkerContext& worker, net::Stream* down, Origin origin);
  ~H2Session() override;

  void start();
  void beginShutdown() override;
  void forceClose() override;
  void onViewChanged() override;
  void abortIfUsing(const upstream::HostState* host) override;

  // For H2Stream, below: what a stream needs of its connection. The session is the only code
  // that calls nghttp2.
  const Origin& origin() const { return origin_; }
  ClientAddresses& client() { return origin_.client; }
  const snapshot::ListenerSnapshot& listener() const;
  const std::shared_ptr<WorkerView>& view() const { return view_; }
  stats::ListenerCounters& counters() { return counters_; }
  size_t outputBacklog() const;
  // Frames are produced at the end of the loop turn (never from inside a stream's callback).
  void scheduleFlush();
  // Submits the response head of `stream`: the status, the fields less the connection-specific
  // ones (names lower-cased), a content-length for a length-framed body, and X-Request-Id
  // unless the fields have one. With `has_body`, DATA comes from H2Stream::readBody. Returns
  // the bytes of the fields, for the access log.
  size_t submitResponse(H2Stream& stream, const http::ResponseHead& resp,
                        std::string_view request_id, bool has_body);
  enum class Reset { kInternalError, kCancel };
  void resetStream(int32_t id, Reset why);
  // `n` bytes of the stream's DATA left the proxy: the client may send as many more.
  void consume(int32_t id, size_t n);
  // The stream has body bytes again after readBody said it had none.
  void resumeData(int32_t id);
  bool shuttingDown() const { return shutting_down_; }

 private:
  static void onReadCb(net::Stream*, void* arg) noexcept;
  static void onWriteCb(net::Stream*, void* arg) noexcept;
  static void onEventCb(net::Stream*, net::StreamEvent event, void* arg) noexcept;
  static void onFlushCall(void* arg) noexcept;
  static void onIdleTimer(void* arg) noexcept;
  void onRead();
  void flush();
  void dispatchPending();
  void close();
  void goAway(uint32_t error_code);
  void checkIdle();
  void recycleClosed();  // closed streams back to the worker's pool
  bool abusive() const;

  friend struct H2Callbacks;  // nghttp2's callbacks, in h2_session.cc

  WorkerContext& worker_;
  net::Stream* down_;
  Origin origin_;
  std::shared_ptr<WorkerView> view_;  // pinned for the connection; refreshed per stream
  std::string listener_name_;
  stats::ListenerCounters& counters_;
  nghttp2_session* ng_ = nullptr;
  std::map<int32_t, std::unique_ptr<H2Stream>> streams_;
  std::vector<int32_t> pending_;                   // complete heads waiting for dispatch
  std::vector<std::unique_ptr<H2Stream>> closed_;  // freed at the next flush
  // Connection idle, GOAWAY grace, close linger; in the worker's queue.
  common::DeadlineQueue::Entry idle_timer_{onIdleTimer, this};
  bool flush_scheduled_ = false;
  bool closed_conn_ = false;
  bool closing_ = false;  // a last GOAWAY is on its way out; then close
  bool shutting_down_ = false;
  bool goaway_final_sent_ = false;
  uint64_t streams_opened_ = 0;
  uint64_t client_resets_ = 0;     // RST_STREAM from the client before the response ended
  uint64_t stream_errors_ = 0;     // streams we refused or reset for what the client sent
  int32_t highest_stream_id_ = 0;  // the highest stream id the client opened
  uint64_t control_frames_ = 0;    // PING, SETTINGS, PRIORITY, WINDOW_UPDATE, empty DATA
};

}  // namespace lb::stream
