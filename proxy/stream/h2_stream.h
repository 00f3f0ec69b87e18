// One HTTP/2 stream of an H2Session: its request head (decoded header fields checked against
// HTTP/1.1 rules, since it is forwarded as HTTP/1.1), its request body on the way upstream, the
// Exchange that carries it, and its response on the way back as HEADERS and DATA frames.
// Owner: the H2Session (worker thread), between streams the worker's H2StreamPool.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/byte_ring.h"
#include "common/deadline_queue.h"
#include "proxy/http/message.h"
#include "proxy/stream/exchange.h"

namespace lb::router {
struct RouteEntry;
}

namespace lb::stream {

class WorkerContext;
struct WorkerCluster;
struct WorkerView;

class H2Session;

class H2Stream final : public ExchangeClient {
 public:
  explicit H2Stream(WorkerContext& worker);
  ~H2Stream();
  H2Stream(const H2Stream&) = delete;
  H2Stream& operator=(const H2Stream&) = delete;

  // A new stream `id` of `session` (a fresh or a reset object).
  void open(H2Session& session, int32_t id);
  // Forgets the stream (the exchange ends without calling back); capacity stays.
  void reset();
  // Request or response head bytes whose capacity a reset would keep.
  size_t headCapacity() const;

  int32_t id() const { return id_; }
  // One decoded header field. False: the head is refused (too large, too many fields, or a
  // value HTTP/1.1 cannot carry); the session resets the stream.
  bool addHeader(std::string_view name, std::string_view value);
  // The head is complete. `end_stream`: no body follows.
  void headComplete(bool end_stream);
  // Routes and starts the exchange, or answers with an error. Called after the read that
  // completed the head was fully processed (a stream reset in that read never gets here).
  void dispatch();
  bool dispatched() const { return dispatched_; }
  void onData(const uint8_t* data, size_t len);
  void onEndStream();
  // The stream is closed (by either side): the exchange, if any, is abandoned.
  void onClosed(uint32_t error_code);
  bool responseEnded() const { return response_ended_; }
  // nghttp2's data source for the response body.
  long readBody(uint8_t* buf, size_t len, uint32_t* data_flags);
  // The connection's output drained: a paused upstream read may resume.
  void resumeIfDrained();
  void abortIfUsing(const upstream::HostState* host) { exchange_.abortIfUsing(host); }
  void onIdleTimeout();
  void touch();  // frames moved: restart the idle timer

 private:
  // ExchangeClient.
  void onRequestBodyWanted() override;
  bool onResponseHead(const http::ResponseHead& resp) override;
  void onResponseData(const char* data, size_t len) override;
  size_t responseBacklog() const override;
  void onResponseEnd() override;
  void onExchangeFailed(const http::Error& error) override;

  static void onIdleTimer(void* arg);
  void pumpBody();
  void fail(const http::Error& error);
  void submitHead(int status, const http::ResponseHead* resp, bool has_body);
  void resumeData();
  void record();

  struct HeadScratch;  // nghttp2's field array for a response head, kept for its capacity
  std::unique_ptr<HeadScratch> head_scratch_;
  H2Session* s_ = nullptr;
  int32_t id_ = 0;
  http::RequestHead req_;
  std::string cookie_;  // HTTP/2 may split Cookie in several fields; rejoined with "; "
  size_t header_bytes_ = 0;
  bool head_refused_ = false;
  bool end_stream_ = false;
  bool dispatched_ = false;
  bool closed_ = false;
  bool recorded_ = false;
  common::ByteRing req_body_;      // DATA received, not yet taken by the upstream connection
  common::ByteRing resp_body_;     // upstream body bytes, not yet in DATA frames
  bool response_started_ = false;  // our HEADERS were submitted
  bool upstream_head_ = false;     // ...and they carry the upstream's response
  bool response_ended_ = false;    // the last DATA is queued
  bool data_deferred_ = false;
  std::shared_ptr<WorkerView> view_;
  const router::RouteEntry* route_ = nullptr;
  WorkerCluster* cluster_ = nullptr;
  Exchange exchange_;
  std::string request_id_;
  int status_ = 0;
  http::Error last_error_;
  uint64_t bytes_in_ = 0;
  uint64_t body_bytes_ = 0;
  uint64_t bytes_out_ = 0;
  std::chrono::steady_clock::time_point started_at_;
  common::DeadlineQueue::Entry idle_timer_{onIdleTimer, this};  // in the worker's queue
};

// Streams between uses, per worker: a busy HTTP/2 connection allocates no stream object, nor
// its strings and vectors, per request. Owner: the worker thread.
class H2StreamPool {
 public:
  explicit H2StreamPool(WorkerContext& worker) : worker_(worker) {}
  ~H2StreamPool();
  H2StreamPool(const H2StreamPool&) = delete;
  H2StreamPool& operator=(const H2StreamPool&) = delete;

  std::unique_ptr<H2Stream> acquire(H2Session& session, int32_t id);
  // Takes a closed stream back. Not from inside the stream's own callbacks.
  void release(std::unique_ptr<H2Stream> stream);

 private:
  WorkerContext& worker_;
  std::vector<std::unique_ptr<H2Stream>> free_;
};

}  // namespace lb::stream
