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

#include "common/event_loop.h"
#include "proxy/stream/worker_context.h"

namespace lb::worker {

using stream::OutlierKind;

struct WorkerHooks {
  stream::WorkerContext::Hooks context;  // access log and outlier reports
  std::chrono::milliseconds shutdown_timeout{30000};
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
  std::map<std::string, uint32_t> cluster_queued;  // requests waiting for room, by cluster
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

  // Owner thread only: what the worker's connections share.
  stream::WorkerContext& context() { return ctx_; }

 private:
  struct ListenerCtx {
    Worker* worker;
    std::string name;
    evconnlistener* listener;
  };
  static void onAccept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int len,
                       void* arg) noexcept;
  void addListener(const std::string& name, int fd);
  void maybeExit();

  uint32_t id_;
  std::chrono::milliseconds shutdown_timeout_;
  std::map<std::string, int> pending_fds_;  // until start()
  stream::WorkerContext ctx_;               // owns the loop: the members below are freed before it
  std::thread thread_;
  std::vector<std::unique_ptr<ListenerCtx>> listeners_;
  common::Timer shutdown_timer_;
};

}  // namespace lb::worker
