// A worker: one thread, one event loop, its own SO_REUSEPORT listening sockets, its own
// upstream pools, balancers and statistics. A client connection lives on one worker for its
// whole life, so the request path takes no lock and touches no shared counter. The main
// thread talks to a worker only by posting to its loop (the public "any thread" methods).
#pragma once

#include <event2/listener.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/deadline_queue.h"
#include "common/event_loop.h"
#include "proxy/snapshot/snapshot.h"
#include "proxy/stats/listener_counters.h"
#include "proxy/stats/traffic_stats.h"
#include "proxy/upstream/connection_pool.h"
#include "proxy/upstream/load_balancer.h"

namespace lb::log {
class AccessLogWriter;
}

namespace lb::stream {
class ClientConnection;
class Http1RequestPool;
class H2StreamPool;
}  // namespace lb::stream

namespace lb::core {

using common::EventLoop;
using common::Timer;

// Worker-local state of one host. Kept across snapshot switches for as long as the host
// exists (so pooled connections, load and statistics survive reloads), and alive while a
// request pinned to an older view still uses it.
struct WorkerHost {
  WorkerHost(EventLoop& loop, common::DeadlineQueue& deadlines,
             std::shared_ptr<upstream::HostState> host, const config::ClusterConfig& cluster);
  std::shared_ptr<upstream::HostState> state;
  upstream::HostLoad load;
  upstream::ConnectionPool pool;
  uint32_t consecutive_5xx = 0;
  uint32_t consecutive_connect_failures = 0;
  stats::TrafficStats stats;
};

// A cluster as one worker sees it in one view: balancer over worker-local hosts.
struct WorkerCluster {
  const snapshot::ClusterSnapshot* config = nullptr;
  std::vector<upstream::LbHost> hosts;
  std::vector<std::shared_ptr<WorkerHost>> locals;  // same order as hosts
  std::unique_ptr<upstream::LoadBalancer> balancer;
};

// Everything a request needs from one configuration generation. A session pins the view for
// the life of a request, so in-flight requests finish on the one they started with.
struct WorkerView {
  std::shared_ptr<const snapshot::Snapshot> snapshot;
  std::vector<WorkerCluster> clusters;
  std::vector<std::shared_ptr<stats::TrafficStats>> route_stats;  // by RouteEntry::stats_index
};

// Passive outlier detection: what a worker tells the main thread when a host crosses a
// consecutive-failure threshold on this worker.
enum class OutlierKind { kConsecutive5xx, kConsecutiveConnectFailures };

struct WorkerHooks {
  log::AccessLogWriter* access_log = nullptr;
  std::chrono::milliseconds shutdown_timeout{30000};
  // Called on the worker thread; must only post to another loop.
  std::function<void(std::shared_ptr<upstream::HostState>, OutlierKind)> on_outlier;
};

// One worker's answer to a statistics request.
struct WorkerReport {
  struct Host {
    stats::Report report;
    uint32_t active_requests = 0;
    uint32_t idle_connections = 0;
  };
  std::map<std::string, stats::Report> routes;               // by route name
  std::map<const upstream::HostState*, Host> hosts;          // by shared host state
  std::map<std::string, stats::ListenerCounters> listeners;  // by listener name
  uint64_t downstream_connections = 0;
};

class Worker {
 public:
  // `listen_fds` maps listener name -> socket for this worker; the worker owns them.
  Worker(uint32_t id, std::shared_ptr<const snapshot::Snapshot> snapshot,
         std::map<std::string, int> listen_fds, WorkerHooks hooks);
  ~Worker();

  // Main thread.
  void start();
  void join();

  // Any thread (posted to the worker). `done` runs on the worker thread.
  // Switches to a new snapshot: listeners missing from it stop accepting and their
  // connections close after the request in flight; `new_fds` are sockets for listeners this
  // worker does not have yet.
  void applySnapshot(std::shared_ptr<const snapshot::Snapshot> snapshot,
                     std::map<std::string, int> new_fds, std::function<void()> done);
  // Closes idle pooled connections to a host (drain, maint, removal).
  void closeIdle(std::shared_ptr<upstream::HostState> host, std::function<void()> done);
  // Ends every request in flight to a host now (a drain deadline passed).
  void abortHost(std::shared_ptr<upstream::HostState> host, std::function<void()> done);
  // Statistics over the last `window_s` seconds, plus totals and live counts.
  void collect(uint32_t window_s, std::function<void(WorkerReport)> done);
  // Stop accepting, finish in-flight requests, exit once idle or at the deadline.
  void beginShutdown();

  // Owner thread only, below.
  EventLoop& loop() { return loop_; }
  const std::shared_ptr<WorkerView>& view() const { return view_; }
  int listenerIndex(const std::string& name) const;
  upstream::Random& random() { return random_; }
  bool draining() const { return draining_; }
  uint32_t id() const { return id_; }
  void appendAccessLog(const std::string& line);
  bool accessLogEnabled() const { return hooks_.access_log != nullptr; }
  void sessionClosed(stream::ClientConnection* session);
  // The HTTP/1.1 request states this worker's connections borrow while a request is in progress.
  stream::Http1RequestPool& http1Requests() { return *http1_requests_; }
  stream::H2StreamPool& h2Streams() { return *h2_streams_; }
  // Timers of this worker's client connections.
  common::DeadlineQueue& deadlines() { return deadlines_; }
  // A connection handed over to another protocol's session (ALPN h2, h2c preface).
  void adoptSession(stream::ClientConnection* session) { linkSession(session); }
  // This worker's counters for a listener; the reference stays valid for the worker's life.
  stats::ListenerCounters& listenerCounters(const std::string& name) {
    return listener_counters_[name];
  }
  // A finished exchange with a host, for passive outlier detection.
  void reportHostResult(WorkerHost& host, const config::OutlierConfig& outlier, bool server_error,
                        bool connect_failure);

 private:
  struct ListenerCtx {
    Worker* worker;
    std::string name;
    evconnlistener* listener;
  };
  static void onAccept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int len, void* arg);
  void buildView(std::shared_ptr<const snapshot::Snapshot> snapshot);
  void addListener(const std::string& name, int fd);
  void flushAccessLog();
  void maybeExit();
  void linkSession(stream::ClientConnection* session);
  void unlinkSession(stream::ClientConnection* session);
  // A copy of the open list, for calls that may close connections while it is walked.
  std::vector<stream::ClientConnection*> openSessions() const;

  uint32_t id_;
  WorkerHooks hooks_;
  std::map<std::string, int> pending_fds_;  // until start()
  EventLoop loop_;
  std::thread thread_;
  upstream::Random random_;
  std::shared_ptr<WorkerView> view_;
  std::map<const upstream::HostState*, std::shared_ptr<WorkerHost>> hosts_;
  std::map<std::string, std::shared_ptr<stats::TrafficStats>> route_stats_;
  std::vector<std::unique_ptr<ListenerCtx>> listeners_;
  stream::ClientConnection* open_sessions_ = nullptr;  // intrusive list head
  size_t open_count_ = 0;
  std::map<std::string, stats::ListenerCounters> listener_counters_;
  bool draining_ = false;
  std::string log_buffer_;
  Timer log_flush_timer_;
  Timer shutdown_timer_;
  // After loop_: freed before it.
  common::DeadlineQueue deadlines_;
  std::unique_ptr<stream::Http1RequestPool> http1_requests_;
  std::unique_ptr<stream::H2StreamPool> h2_streams_;
};

}  // namespace lb::core
