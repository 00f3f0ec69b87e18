// The state of one HTTP/1.1 request on a client connection: its head parser, body decoder,
// upstream exchange and response bookkeeping. A connection holds one only while a request is
// in progress, from its first byte to the end of its response; between requests it goes back
// to the worker's pool. So an idle keep-alive connection costs a few hundred bytes (nginx and
// HAProxy do the same with their request pools and buffers), and a busy one allocates nothing
// per request: the pool hands back objects whose strings and vectors kept their capacity.
//
// Owner: one worker thread. The pool, and every request it hands out, belong to that worker.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "proxy/http/body_decoder.h"
#include "proxy/http/error.h"
#include "proxy/http/http1_parser.h"
#include "proxy/stream/exchange.h"

namespace lb::router {
struct RouteEntry;
}

namespace lb::stream {

class WorkerContext;
struct WorkerCluster;

struct Http1Request {
  Http1Request(WorkerContext& worker, ExchangeClient& client, const http::HeadLimits& limits);
  // Forgets the request (the exchange ends without calling its client); capacity stays.
  void reset();

  http::Http1HeadParser parser;
  http::BodyDecoder body;
  Exchange exchange;
  const router::RouteEntry* route = nullptr;
  WorkerCluster* cluster = nullptr;
  bool body_done = false;  // the whole request body was read from the client
  bool sent_continue = false;
  bool response_started = false;  // response head written to the client
  bool response_done = false;
  bool client_chunked = false;  // response body re-chunked for the client
  http::BodyFraming client_framing = http::BodyFraming::kNone;
  http::Error last_error;
  int status = 0;
  std::string request_id;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  std::chrono::steady_clock::time_point started_at;
  std::string scratch;  // reused for encoding heads
};

class Http1RequestPool {
 public:
  explicit Http1RequestPool(WorkerContext& worker);
  ~Http1RequestPool();
  Http1RequestPool(const Http1RequestPool&) = delete;
  Http1RequestPool& operator=(const Http1RequestPool&) = delete;

  // A fresh request whose exchange reports to `client` and whose parser applies `limits`.
  Http1Request* acquire(ExchangeClient& client, const http::HeadLimits& limits);
  // Takes a request back; its exchange is aborted first. Safe from inside the request's own
  // callbacks: nothing is freed before the loop turn ends.
  void release(Http1Request* request);

 private:
  void trim();

  WorkerContext& worker_;
  std::vector<std::unique_ptr<Http1Request>> free_;
  std::vector<std::unique_ptr<Http1Request>> retired_;  // freed at the end of the loop turn
  bool trim_scheduled_ = false;
};

}  // namespace lb::stream
