#include "proxy/stream/http1_request.h"

#include "proxy/stream/worker_context.h"

namespace lb::stream {

namespace {
// Free requests kept per worker: enough for the connections busy at once under load; more
// are freed at the end of the loop turn, so a burst does not pin its memory.
constexpr size_t kMaxFree = 256;
// A request that parsed a head this large may hold as much capacity: freed, not pooled.
constexpr size_t kMaxPooledHeadBytes = 8 * 1024;
}  // namespace

Http1Request::Http1Request(WorkerContext& worker, ExchangeClient& client,
                           const http::HeadLimits& limits)
    : parser(http::Http1HeadParser::Kind::kRequest, limits), exchange(worker, client) {}

void Http1Request::reset() {
  exchange.reset();
  parser.reset();
  body = http::BodyDecoder();
  route = nullptr;
  cluster = nullptr;
  body_done = false;
  sent_continue = false;
  response_started = false;
  response_done = false;
  client_chunked = false;
  client_framing = http::BodyFraming::kNone;
  last_error = {};
  status = 0;
  request_id.clear();
  bytes_in = 0;
  bytes_out = 0;
}

Http1RequestPool::Http1RequestPool(WorkerContext& worker) : worker_(worker) {}

Http1RequestPool::~Http1RequestPool() = default;

Http1Request* Http1RequestPool::acquire(ExchangeClient& client, const http::HeadLimits& limits) {
  if (free_.empty()) return new Http1Request(worker_, client, limits);
  Http1Request* r = free_.back().release();
  free_.pop_back();
  r->exchange.setClient(client);
  r->parser.setLimits(limits);
  return r;
}

void Http1RequestPool::release(Http1Request* request) {
  const bool large = request->parser.headBytes() > kMaxPooledHeadBytes;
  request->reset();
  (large ? retired_ : free_).emplace_back(request);
  if ((large || free_.size() > kMaxFree) && !trim_scheduled_) {
    trim_scheduled_ = true;
    worker_.loop().runLater([this] { trim(); });
  }
}

void Http1RequestPool::trim() {
  trim_scheduled_ = false;
  retired_.clear();
  while (free_.size() > kMaxFree) free_.pop_back();
}

}  // namespace lb::stream
