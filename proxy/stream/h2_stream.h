// One HTTP/2 stream of an H2Session: its request head (decoded header fields checked against
// HTTP/1.1 rules, since it is forwarded as HTTP/1.1), its request body on the way upstream, the
// ActiveRequest that carries it, and its response on the way back, handed to the session as a
// head and DATA. The session is the only code that calls nghttp2.
// Owner: the H2Session (worker thread), between streams the worker's RequestPool.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "common/byte_ring.h"
#include "common/deadline_queue.h"
#include "proxy/http/message.h"
#include "proxy/stream/active_request.h"

namespace lb::stream {

class WorkerContext;
class H2Session;
struct WorkerView;

class H2Stream final : private Downstream {
 public:
  explicit H2Stream(WorkerContext& worker);
  ~H2Stream();
  H2Stream(const H2Stream&) = delete;
  H2Stream& operator=(const H2Stream&) = delete;

  // A new stream `id` of `session` (a fresh or a reset object).
  void open(H2Session& session, int32_t id);
  // Forgets the stream (the exchange ends without calling back); capacity stays.
  void reset();
  // Request head bytes whose capacity a reset would keep.
  size_t headCapacity() const { return header_bytes_; }

  int32_t id() const { return id_; }
  // One decoded header field. False: the head is refused (too large, too many fields, or a
  // value HTTP/1.1 cannot carry); the session resets the stream.
  bool addHeader(std::string_view name, std::string_view value);
  // The head is complete. `end_stream`: no body follows.
  void headComplete(bool end_stream);
  // Routes and starts the request, or answers with an error. Called after the read that
  // completed the head was fully processed (a stream reset in that read never gets here).
  void dispatch();
  bool dispatched() const { return s_.dispatched; }
  void onData(const uint8_t* data, size_t len);
  void onEndStream();
  // The stream is closed (by either side): the request, if any, is abandoned.
  void onClosed();
  bool responseEnded() const { return s_.response_ended; }
  // The response body for a DATA frame: up to `len` bytes into `buf`. -1: nothing yet (the
  // session defers the stream until resumeData). *eof: these are the last.
  long readBody(uint8_t* buf, size_t len, bool* eof);
  // The connection's output drained: a paused upstream read may resume.
  void resumeIfDrained();
  void abortIfUsing(const upstream::HostState* host) { request_.abortIfUsing(host); }
  void onIdleTimeout();
  void touch();  // frames moved: restart the idle timer

 private:
  // Downstream.
  Info info() const override;
  void onBodyWanted() override;
  // Nothing to hold off: a body the upstream cannot take stays unconsumed here, and the
  // client's stream window stops it (pumpBody consumes only what went upstream).
  void onUpstreamFull() override {}
  http::Error encodeHead(const http::ResponseHead& resp, std::string_view request_id,
                         bool closes) override;
  void encodeData(const char* data, size_t len) override;
  void encodeEnd() override;
  void encodeReset() override;
  void onRequestComplete() override;

  static void onIdleTimer(void* arg) noexcept;
  // An extended CONNECT (RFC 8441) becomes the HTTP/1.1 upgrade request the backend expects.
  void toUpgradeRequest();
  // The backend's 101, as the 200 an extended CONNECT gets; an error when its handshake
  // answer is wrong.
  http::Error encodeTunnelHead(const http::ResponseHead& resp, std::string_view request_id);
  void pumpBody();
  void resumeData();

  WorkerContext& worker_;
  H2Session* session_ = nullptr;
  int32_t id_ = 0;
  http::RequestHead req_;  // cleared, not freed, between streams
  std::string cookie_;     // HTTP/2 may split Cookie in several fields; rejoined with "; "
  std::string protocol_;   // :protocol of an extended CONNECT ("websocket")
  std::string ws_key_;     // the Sec-WebSocket-Key lbproxy sent the backend for it
  size_t header_bytes_ = 0;
  // What one stream changes, reset by value.
  // This stream's response bytes not yet sent: its own and the connection's output.
  size_t backlog() const;

  struct State {
    bool head_refused = false;
    bool end_stream = false;
    bool dispatched = false;
    bool closed = false;
    bool response_ended = false;  // the last DATA is queued
    bool above = false;           // the response backlog passed the high mark
    bool data_deferred = false;
    bool extended_connect = false;  // CONNECT with :protocol (RFC 8441)
    bool tunnel = false;            // ...and the backend switched: DATA both ways is the tunnel
    uint64_t body_bytes = 0;
    std::chrono::steady_clock::time_point opened_at;
  };
  State s_;
  std::shared_ptr<WorkerView> view_;  // pinned from dispatch() to reset()
  common::ByteRing req_body_;         // DATA received, not yet taken by the upstream connection
  common::ByteRing resp_body_;        // upstream body bytes, not yet in DATA frames
  ActiveRequest request_;
  common::DeadlineQueue::Entry idle_timer_{onIdleTimer, this};  // in the worker's queue
};

}  // namespace lb::stream
