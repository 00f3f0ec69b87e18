// What the worker needs from any client connection, whatever protocol it speaks: an HTTP/1.1
// DownstreamSession or an HTTP/2 H2Session. Owner: the worker thread that accepted it; the
// worker deletes it in the loop turn after it reported itself closed (Worker::sessionClosed).
#pragma once

namespace lb::upstream {
struct HostState;
}

namespace lb::stream {

class WorkerContext;

class ClientConnection {
 public:
  virtual ~ClientConnection() = default;
  // Graceful shutdown: idle connections close now; requests in flight finish.
  virtual void beginShutdown() = 0;
  // Shutdown deadline or worker exit: close now, whatever is in flight.
  virtual void forceClose() = 0;
  // The worker switched to a new view: a connection whose listener is gone winds down.
  virtual void onViewChanged() = 0;
  // A drain deadline passed for `host`: requests in flight to it end now.
  virtual void abortIfUsing(const upstream::HostState* host) = 0;

 private:
  // The worker's list of its open connections: intrusive, so a connection costs the worker
  // no allocation.
  friend class WorkerContext;
  ClientConnection* prev_open_ = nullptr;
  ClientConnection* next_open_ = nullptr;
};

}  // namespace lb::stream
