// What the client connections and requests of one worker share: its event loop and timer
// queue, its current view of the configuration (worker-local clusters, hosts and route
// statistics), the request and stream pools, per-listener counters, the access-log buffer,
// passive outlier reporting and the list of open client connections. The request path sees a
// worker only through this class; the Worker that owns it (proxy/worker/) adds the thread, the
// listening sockets and the commands the main thread posts.
//
// Owner: the worker thread; every method is called on it. Objects handed out by reference
// (loop, queue, pools, counters) live as long as the context.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/deadline_queue.h"
#include "common/event_loop.h"
#include "proxy/snapshot/snapshot.h"
#include "proxy/stats/listener_counters.h"
#include "proxy/stats/traffic_stats.h"
#include "proxy/tls/client_context.h"
#include "proxy/upstream/connection_pool.h"
#include "proxy/upstream/load_balancer.h"

namespace lb::log {
class AccessLogWriter;
}

namespace lb::stream {

class ClientConnection;
class Exchange;
class H2Stream;
struct Http1Request;
template <class T>
class RequestPool;

// Worker-local state of one host. Kept across snapshot switches for as long as the host
// exists (so pooled connections, load and statistics survive reloads), and alive while a
// request pinned to an older view still uses it.
struct WorkerHost {
  WorkerHost(common::EventLoop& loop, common::DeadlineQueue& deadlines,
             std::shared_ptr<upstream::HostState> host, const config::ClusterConfig& cluster);
  std::shared_ptr<upstream::HostState> state;
  upstream::HostLoad load;  // with this worker's share of max_requests_per_host
  // This worker's share of max_connections_per_host (UINT32_MAX: no limit).
  uint32_t max_connections = UINT32_MAX;
  // TLS to the host: the context its pooled connections were made with, and the session to
  // resume (before `pool`, so pooled connections go first).
  std::shared_ptr<const tls::ClientContext> tls_context;
  tls::SessionCache tls_sessions;
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
  // Policy retries in flight from this worker in this view (the retry budget's count; a
  // reload starts a new count while the old view's retries finish).
  uint32_t active_retries = 0;
  // Requests waiting for a host with room (limits.max_queued, this worker's share), oldest
  // first; an intrusive list through the exchanges (Exchange::queue_prev_/queue_next_).
  uint32_t max_queued = 0;
  uint32_t queued = 0;
  Exchange* queue_head = nullptr;
  Exchange* queue_tail = nullptr;
  // The cluster and label subsets of the same view that share hosts with this one (a
  // cluster's subsets; a subset's cluster and sibling subsets): a host's freed room may be
  // what a request queued there waits for.
  std::vector<WorkerCluster*> sharing;
};

// Everything a request needs from one configuration generation. A session pins the view for
// the life of a request, so in-flight requests finish on the one they started with.
struct WorkerView {
  std::shared_ptr<const snapshot::Snapshot> snapshot;
  std::vector<WorkerCluster> clusters;
  // Label subsets of clusters (by snapshot subset index): their own balancer and queue over
  // the cluster's WorkerHosts, so limits, pools and host statistics are the cluster's.
  std::vector<WorkerCluster> subsets;
  // Weighted destinations' pick state (router/weighted_pick.h) by RouteEntry::stats_index;
  // empty for a route with one destination.
  std::vector<std::vector<int64_t>> splits;
  std::vector<std::shared_ptr<stats::TrafficStats>> route_stats;  // by RouteEntry::stats_index
};

// Passive outlier detection: what a worker tells the main thread when a host crosses a
// consecutive-failure threshold on this worker.
enum class OutlierKind { kConsecutive5xx, kConsecutiveConnectFailures };

class WorkerContext {
 public:
  struct Hooks {
    log::AccessLogWriter* access_log = nullptr;  // null: no access log
    // Called on the worker thread; must only post to another loop.
    std::function<void(std::shared_ptr<upstream::HostState>, OutlierKind)> on_outlier;
    // How many workers split the clusters' limits (this one takes the share of its id).
    uint32_t workers = 1;
  };

  // `clock` (not owned; null: the steady clock) is the loop's: tests run a worker's requests
  // on a common::ManualClock.
  WorkerContext(uint32_t id, Hooks hooks, std::shared_ptr<const snapshot::Snapshot> snapshot,
                const common::Clock* clock = nullptr);
  // This worker's share of a limit meant for the whole proxy: the total split evenly, the
  // first (total mod workers) workers one more. Sums to `total` over the workers.
  uint32_t shareOf(uint32_t total) const;
  ~WorkerContext();
  WorkerContext(const WorkerContext&) = delete;
  WorkerContext& operator=(const WorkerContext&) = delete;

  common::EventLoop& loop() { return loop_; }
  // Timers of this worker's connections and requests.
  common::DeadlineQueue& deadlines() { return deadlines_; }
  upstream::Random& random() { return random_; }
  const std::shared_ptr<WorkerView>& view() const { return view_; }
  // The index of a listener in the current view, -1 once it is gone.
  int listenerIndex(const std::string& name) const;
  // Shutdown began: no connection is kept alive, and no upstream connection is pooled.
  bool draining() const { return draining_; }

  // The HTTP/1.1 request states and HTTP/2 streams this worker's connections borrow.
  RequestPool<Http1Request>& http1Requests() { return *http1_requests_; }
  RequestPool<H2Stream>& h2Streams() { return *h2_streams_; }
  // Where a request codes a compressed body's bytes before they go to its connection: one
  // for the worker, as the coded bytes are handed on at once (its capacity is the largest
  // upstream read, coded).
  std::string& codedScratch() { return coded_scratch_; }
  // This worker's counters for a listener; the reference stays valid for the context's life.
  stats::ListenerCounters& listenerCounters(const std::string& name) {
    return listener_counters_[name];
  }

  bool accessLogEnabled() const { return hooks_.access_log != nullptr; }
  // Buffered; written out in batches (by size, or 100 ms after the first line).
  void appendAccessLog(const std::string& line);
  void flushAccessLog();
  // A finished exchange with a host, for passive outlier detection.
  void reportHostResult(WorkerHost& host, const config::OutlierConfig& outlier, bool server_error,
                        bool connect_failure);

  // Open client connections. A connection is added when it is accepted or when it takes over
  // from another (ALPN h2, h2c preface), and reports itself closed once; it is deleted in the
  // loop turn after that.
  void addSession(ClientConnection* session);
  void sessionClosed(ClientConnection* session);
  // A copy of the open list, for calls that may close connections while it is walked.
  std::vector<ClientConnection*> openSessions() const;
  size_t openCount() const { return open_count_; }

  // For the owning Worker.
  void applySnapshot(std::shared_ptr<const snapshot::Snapshot> snapshot);
  // From now on draining() is true; `on_idle` runs each time the last open connection closes.
  void beginDraining(std::function<void()> on_idle);
  const std::map<const upstream::HostState*, std::shared_ptr<WorkerHost>>& hosts() const {
    return hosts_;
  }
  const std::map<std::string, std::shared_ptr<stats::TrafficStats>>& routeStats() const {
    return route_stats_;
  }
  const std::map<std::string, stats::ListenerCounters>& allListenerCounters() const {
    return listener_counters_;
  }
  // The thread is ending: the view and the hosts go (after the connections closed).
  void releaseView();

 private:
  void unlinkSession(ClientConnection* session);

  Hooks hooks_;
  uint32_t id_;
  common::EventLoop loop_;
  upstream::Random random_;
  std::shared_ptr<WorkerView> view_;
  std::map<const upstream::HostState*, std::shared_ptr<WorkerHost>> hosts_;
  std::map<std::string, std::shared_ptr<stats::TrafficStats>> route_stats_;
  std::map<std::string, stats::ListenerCounters> listener_counters_;
  ClientConnection* open_sessions_ = nullptr;  // intrusive list head
  size_t open_count_ = 0;
  bool draining_ = false;
  std::function<void()> on_idle_;
  std::string log_buffer_;
  std::string coded_scratch_;
  common::Timer log_flush_timer_;
  // After loop_: freed before it.
  common::DeadlineQueue deadlines_;
  std::unique_ptr<RequestPool<Http1Request>> http1_requests_;
  std::unique_ptr<RequestPool<H2Stream>> h2_streams_;
};

}  // namespace lb::stream
