// Upstream connections and the per-worker, per-host pool of idle keep-alive connections.
// Owner: one worker thread. A connection is either lent to one request (handler set) or idle
// in its pool (handler null); an idle connection that reads anything or times out is closed.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/deadline_queue.h"
#include "common/event_loop.h"
#include "proxy/http/body_decoder.h"
#include "proxy/http/http1_parser.h"
#include "proxy/net/stream.h"

namespace lb::upstream {

class UpstreamConnection;

// Implemented by the request that borrows a connection. Called on the owner thread.
class UpstreamHandler {
 public:
  virtual void onUpstreamRead() = 0;
  virtual void onUpstreamWrite() = 0;  // output drained below the low watermark
  virtual void onUpstreamEvent(net::StreamEvent event) = 0;

 protected:
  ~UpstreamHandler() = default;
};

class ConnectionPool;

class UpstreamConnection {
 public:
  // Takes ownership of `stream` (released in the destructor).
  UpstreamConnection(net::Stream* stream, uint32_t host_index);
  ~UpstreamConnection();  // closes the socket
  UpstreamConnection(const UpstreamConnection&) = delete;
  UpstreamConnection& operator=(const UpstreamConnection&) = delete;

  net::Stream* stream() const { return stream_; }
  // The host's index in the cluster of the view the borrowing request uses. Indices move when
  // hosts are added or removed, so a connection taken from the pool gets the current one.
  uint32_t hostIndex() const { return host_index_; }
  void setHostIndex(uint32_t index) { host_index_ = index; }
  void setHandler(UpstreamHandler* handler) { handler_ = handler; }

  bool reused = false;  // came from the pool (may have been closed by the peer meanwhile)
  // The PROXY protocol header this connection began with (empty: none). It speaks for one
  // client connection, so only that client's requests may reuse it.
  std::string proxy_header;
  bool connected = false;
  http::Http1HeadParser parser;
  http::BodyDecoder body;

 private:
  friend class ConnectionPool;
  static void onRead(net::Stream*, void* arg) noexcept;
  static void onWrite(net::Stream*, void* arg) noexcept;
  static void onEvent(net::Stream*, net::StreamEvent event, void* arg) noexcept;
  static void onIdleTimeout(void* arg) noexcept;

  net::Stream* stream_;
  uint32_t host_index_;
  UpstreamHandler* handler_ = nullptr;
  ConnectionPool* idle_in_ = nullptr;                             // set while idle in a pool
  common::DeadlineQueue::Entry idle_timer_{onIdleTimeout, this};  // in the pool's queue
};

class ConnectionPool {
 public:
  // `deadlines` (the worker's) times idle connections out; it must outlive the pool's
  // pending idle time (it cancels what is left when destroyed).
  ConnectionPool(common::EventLoop& loop, common::DeadlineQueue& deadlines, uint32_t max_idle,
                 std::chrono::milliseconds idle_timeout)
      : loop_(loop), deadlines_(deadlines), max_idle_(max_idle), idle_timeout_(idle_timeout) {}
  ~ConnectionPool();

  // The most recently used idle connection that began with `proxy_header` (empty: without
  // one), or null.
  std::unique_ptr<UpstreamConnection> take(std::string_view proxy_header = {});
  // Keeps a healthy connection for reuse, or closes it when the pool is full.
  void release(std::unique_ptr<UpstreamConnection> conn);
  size_t idleCount() const { return idle_.size(); }
  void closeAll();
  // Closes the idle connection unused the longest (a connection limit needs its place).
  void closeOldest();

 private:
  friend class UpstreamConnection;
  void drop(UpstreamConnection* conn);  // peer closed it, it sent junk, or it timed out

  common::EventLoop& loop_;
  common::DeadlineQueue& deadlines_;
  uint32_t max_idle_;
  std::chrono::milliseconds idle_timeout_;
  std::vector<std::unique_ptr<UpstreamConnection>> idle_;
};

}  // namespace lb::upstream
