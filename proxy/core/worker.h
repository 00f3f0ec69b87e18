// A worker: one thread, one event loop, its own SO_REUSEPORT listening sockets, its own
// upstream pools and balancers. A client connection lives on one worker for its whole life,
// so the request path takes no lock. The main thread talks to it only through post().
#pragma once

#include <event2/listener.h>

#include <memory>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "proxy/core/event_loop.h"
#include "proxy/snapshot/snapshot.h"
#include "proxy/upstream/connection_pool.h"
#include "proxy/upstream/load_balancer.h"

namespace lb::log {
class AccessLogWriter;
}

namespace lb::stream {
class DownstreamSession;
}

namespace lb::core {

// A cluster as one worker sees it: balancer, worker-local host counters, pools.
struct WorkerCluster {
  const snapshot::ClusterSnapshot* config = nullptr;
  std::vector<upstream::LbHost> hosts;
  std::vector<std::unique_ptr<upstream::ConnectionPool>> pools;  // one per host
  std::unique_ptr<upstream::LoadBalancer> balancer;
};

class Worker {
 public:
  // `listen_fds[i]` serves snapshot listener i; the worker owns and closes them.
  Worker(uint32_t id, std::shared_ptr<const snapshot::Snapshot> snapshot,
         std::vector<int> listen_fds, log::AccessLogWriter* access_log,
         std::chrono::milliseconds shutdown_timeout);
  ~Worker();

  // Main thread.
  void start();
  void join();
  // Any thread: stop accepting, finish in-flight requests, exit once idle or at the deadline.
  void beginShutdown();

  // Owner thread only, below.
  EventLoop& loop() { return loop_; }
  const snapshot::Snapshot& snapshot() const { return *snapshot_; }
  std::shared_ptr<const snapshot::Snapshot> snapshotRef() const { return snapshot_; }
  WorkerCluster& cluster(uint32_t index) { return clusters_[index]; }
  upstream::Random& random() { return random_; }
  bool draining() const { return draining_; }
  uint32_t id() const { return id_; }
  void appendAccessLog(const std::string& line);
  bool accessLogEnabled() const { return access_log_ != nullptr; }
  void sessionClosed(stream::DownstreamSession* session);

 private:
  struct ListenerCtx {
    Worker* worker;
    uint32_t index;
    evconnlistener* listener;
  };
  static void onAccept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int len, void* arg);
  void flushAccessLog();
  void maybeExit();

  uint32_t id_;
  std::shared_ptr<const snapshot::Snapshot> snapshot_;
  std::vector<int> listen_fds_;
  log::AccessLogWriter* access_log_;
  std::chrono::milliseconds shutdown_timeout_;
  EventLoop loop_;
  std::thread thread_;
  upstream::Random random_;
  std::vector<WorkerCluster> clusters_;
  std::vector<std::unique_ptr<ListenerCtx>> listeners_;
  std::unordered_set<stream::DownstreamSession*> sessions_;
  bool draining_ = false;
  std::string log_buffer_;
  Timer log_flush_timer_;
  Timer shutdown_timer_;
};

}  // namespace lb::core
