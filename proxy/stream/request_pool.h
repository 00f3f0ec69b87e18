// Per-request objects between uses, per worker: the HTTP/1.1 request state (Http1Request) and
// the HTTP/2 stream (H2Stream), each holding an ActiveRequest. A busy worker allocates none of
// them, nor their strings and vectors, per request; one that parsed a large head is freed
// rather than kept, so a burst of large heads does not pin its memory.
//
// T has T(WorkerContext&), reset() (forget the request, keep capacity) and headCapacity().
// Owner: the worker thread. release() is safe from inside the object's own callbacks: nothing
// is freed before the loop turn ends.
#pragma once

#include <memory>
#include <vector>

#include "proxy/stream/worker_context.h"

namespace lb::stream {

// Free objects kept per worker: enough for the requests busy at once under load.
inline constexpr size_t kMaxPooledRequests = 256;
// An object that held a head this large may hold as much capacity: freed, not pooled.
inline constexpr size_t kMaxPooledHeadBytes = 8 * 1024;

template <class T>
class RequestPool {
 public:
  explicit RequestPool(WorkerContext& worker) : worker_(worker) {}
  RequestPool(const RequestPool&) = delete;
  RequestPool& operator=(const RequestPool&) = delete;

  std::unique_ptr<T> acquire() {
    if (free_.empty()) return std::make_unique<T>(worker_);
    std::unique_ptr<T> item = std::move(free_.back());
    free_.pop_back();
    return item;
  }

  void release(std::unique_ptr<T> item) {
    const bool large = item->headCapacity() > kMaxPooledHeadBytes;
    item->reset();
    (large ? retired_ : free_).push_back(std::move(item));
    if ((large || free_.size() > kMaxPooledRequests) && !trim_scheduled_) {
      trim_scheduled_ = true;
      worker_.loop().runLater([this] { trim(); });
    }
  }

 private:
  void trim() {
    trim_scheduled_ = false;
    retired_.clear();
    while (free_.size() > kMaxPooledRequests) free_.pop_back();
  }

  WorkerContext& worker_;
  std::vector<std::unique_ptr<T>> free_;
  std::vector<std::unique_ptr<T>> retired_;  // freed at the end of the loop turn
  bool trim_scheduled_ = false;
};

}  // namespace lb::stream
