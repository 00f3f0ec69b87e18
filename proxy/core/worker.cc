#include "proxy/core/worker.h"

#include <unistd.h>

#include <random>

#include "proxy/log/access_log.h"
#include "proxy/stream/downstream_session.h"
#include "proxy/stream/h2_stream.h"
#include "proxy/stream/http1_request.h"

namespace lb::core {

namespace {
constexpr size_t kAccessLogFlushBytes = 64 * 1024;
constexpr std::chrono::milliseconds kAccessLogFlushEvery{100};

int64_t nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

WorkerHost::WorkerHost(EventLoop& loop, common::DeadlineQueue& deadlines,
                       std::shared_ptr<upstream::HostState> host,
                       const config::ClusterConfig& cluster)
    : state(std::move(host)),
      pool(loop, deadlines, cluster.max_idle_per_host, cluster.idle_timeout) {}

Worker::Worker(uint32_t id, std::shared_ptr<const snapshot::Snapshot> snapshot,
               std::map<std::string, int> listen_fds, WorkerHooks hooks)
    : id_(id),
      hooks_(std::move(hooks)),
      pending_fds_(std::move(listen_fds)),
      random_(std::random_device{}() ^ (uint64_t{id} << 32)),
      log_flush_timer_(loop_, [this] { flushAccessLog(); }),
      shutdown_timer_(loop_,
                      [this] {
                        // Deadline passed: close what is still open.
                        std::vector<stream::ClientConnection*> open = openSessions();
                        for (auto* s : open) s->forceClose();
                      }),
      deadlines_(loop_),
      http1_requests_(std::make_unique<stream::Http1RequestPool>(*this)),
      h2_streams_(std::make_unique<stream::H2StreamPool>(*this)) {
  buildView(std::move(snapshot));
}

Worker::~Worker() {
  for (auto& l : listeners_)
    if (l->listener) evconnlistener_free(l->listener);
  for (auto& [name, fd] : pending_fds_)
    if (fd >= 0) close(fd);
}

void Worker::buildView(std::shared_ptr<const snapshot::Snapshot> snapshot) {
  auto view = std::make_shared<WorkerView>();
  view->snapshot = std::move(snapshot);
  const snapshot::Snapshot& snap = *view->snapshot;
  std::map<const upstream::HostState*, std::shared_ptr<WorkerHost>> hosts;
  view->clusters.resize(snap.clusters.size());
  for (size_t i = 0; i < snap.clusters.size(); ++i) {
    WorkerCluster& wc = view->clusters[i];
    wc.config = &snap.clusters[i];
    for (const auto& host : wc.config->hosts) {
      auto it = hosts_.find(host.get());
      std::shared_ptr<WorkerHost> local =
          it != hosts_.end()
              ? it->second
              : std::make_shared<WorkerHost>(loop_, deadlines_, host, wc.config->config);
      hosts[host.get()] = local;
      wc.hosts.push_back({host.get(), &local->load});
      wc.locals.push_back(std::move(local));
    }
    wc.balancer = upstream::makeLoadBalancer(wc.config->config.balancer, wc.hosts, random_);
  }
  // Hosts that left: their idle connections close now; requests still using them keep
  // the WorkerHost alive through their pinned view.
  for (auto& [state, local] : hosts_)
    if (!hosts.count(state)) local->pool.closeAll();
  hosts_ = std::move(hosts);

  std::map<std::string, std::shared_ptr<stats::TrafficStats>> route_stats;
  view->route_stats.resize(snap.routes.size());
  for (size_t i = 0; i < snap.routes.size(); ++i) {
    const std::string& name = snap.routes[i];
    auto it = route_stats_.find(name);
    auto stats = it != route_stats_.end() ? it->second : std::make_shared<stats::TrafficStats>();
    route_stats[name] = stats;
    view->route_stats[i] = std::move(stats);
  }
  route_stats_ = std::move(route_stats);
  view_ = std::move(view);
}

void Worker::addListener(const std::string& name, int fd) {
  auto ctx = std::make_unique<ListenerCtx>(ListenerCtx{this, name, nullptr});
  ctx->listener =
      evconnlistener_new(loop_.base(), onAccept, ctx.get(), LEV_OPT_CLOSE_ON_FREE, -1, fd);
  listeners_.push_back(std::move(ctx));
}

int Worker::listenerIndex(const std::string& name) const {
  const auto& ls = view_->snapshot->listeners;
  for (size_t i = 0; i < ls.size(); ++i)
    if (ls[i].name == name) return static_cast<int>(i);
  return -1;
}

void Worker::start() {
  for (auto& [name, fd] : pending_fds_) {
    addListener(name, fd);
    fd = -1;  // the evconnlistener owns it now
  }
  pending_fds_.clear();
  thread_ = std::thread([this] {
    loop_.run();
    // Anything left after the loop stops (forced exit) is closed here, on this thread.
    std::vector<stream::ClientConnection*> open = openSessions();
    for (auto* s : open) s->forceClose();
    flushAccessLog();
    view_.reset();
    hosts_.clear();
  });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::applySnapshot(std::shared_ptr<const snapshot::Snapshot> snapshot,
                           std::map<std::string, int> new_fds, std::function<void()> done) {
  loop_.post([this, snapshot = std::move(snapshot), new_fds = std::move(new_fds),
              done = std::move(done)]() mutable {
    buildView(std::move(snapshot));
    // Listeners that are gone stop accepting now.
    for (auto it = listeners_.begin(); it != listeners_.end();) {
      if (listenerIndex((*it)->name) < 0) {
        if ((*it)->listener) evconnlistener_free((*it)->listener);
        it = listeners_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& [name, fd] : new_fds) {
      if (draining_)
        close(fd);
      else
        addListener(name, fd);
    }
    std::vector<stream::ClientConnection*> open = openSessions();
    for (auto* s : open) s->onViewChanged();
    if (done) done();
  });
}

void Worker::closeIdle(std::shared_ptr<upstream::HostState> host, std::function<void()> done) {
  loop_.post([this, host = std::move(host), done = std::move(done)] {
    auto it = hosts_.find(host.get());
    if (it != hosts_.end()) it->second->pool.closeAll();
    if (done) done();
  });
}

void Worker::abortHost(std::shared_ptr<upstream::HostState> host, std::function<void()> done) {
  loop_.post([this, host = std::move(host), done = std::move(done)] {
    std::vector<stream::ClientConnection*> open = openSessions();
    for (auto* s : open) s->abortIfUsing(host.get());
    auto it = hosts_.find(host.get());
    if (it != hosts_.end()) it->second->pool.closeAll();
    if (done) done();
  });
}

void Worker::collect(uint32_t window_s, std::function<void(WorkerReport)> done) {
  loop_.post([this, window_s, done = std::move(done)] {
    WorkerReport report;
    int64_t now = nowSeconds();
    for (auto& [name, stats] : route_stats_) stats->report(now, window_s, &report.routes[name]);
    for (auto& [state, local] : hosts_) {
      WorkerReport::Host& h = report.hosts[state];
      local->stats.report(now, window_s, &h.report);
      h.active_requests = local->load.active_requests;
      h.idle_connections = static_cast<uint32_t>(local->pool.idleCount());
    }
    report.listeners = listener_counters_;
    report.downstream_connections = open_count_;
    done(std::move(report));
  });
}

void Worker::reportHostResult(WorkerHost& host, const config::OutlierConfig& outlier,
                              bool server_error, bool connect_failure) {
  const config::OutlierConfig* od = &outlier;
  if (!od->enabled) return;
  host.consecutive_5xx = server_error ? host.consecutive_5xx + 1 : 0;
  host.consecutive_connect_failures = connect_failure ? host.consecutive_connect_failures + 1 : 0;
  if (!hooks_.on_outlier) return;
  if (host.consecutive_5xx >= od->consecutive_5xx) {
    host.consecutive_5xx = 0;
    hooks_.on_outlier(host.state, OutlierKind::kConsecutive5xx);
  } else if (host.consecutive_connect_failures >= od->consecutive_connect_failures) {
    host.consecutive_connect_failures = 0;
    hooks_.on_outlier(host.state, OutlierKind::kConsecutiveConnectFailures);
  }
}

void Worker::beginShutdown() {
  loop_.post([this] {
    if (draining_) return;
    draining_ = true;
    for (auto& l : listeners_) {
      if (l->listener) evconnlistener_free(l->listener);
      l->listener = nullptr;
    }
    shutdown_timer_.start(hooks_.shutdown_timeout);
    std::vector<stream::ClientConnection*> open = openSessions();
    for (auto* s : open) s->beginShutdown();
    maybeExit();
  });
}

void Worker::onAccept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int, void* arg) {
  auto* ctx = static_cast<ListenerCtx*>(arg);
  Worker* self = ctx->worker;
  int index = self->listenerIndex(ctx->name);
  if (index < 0) {
    ::close(fd);
    return;
  }
  auto* session = new stream::DownstreamSession(*self, static_cast<uint32_t>(index), fd, addr);
  self->linkSession(session);
  session->start();
}

void Worker::sessionClosed(stream::ClientConnection* session) {
  unlinkSession(session);
  loop_.runLater([session] { delete session; });
  if (draining_) maybeExit();
}

void Worker::linkSession(stream::ClientConnection* session) {
  session->prev_open_ = nullptr;
  session->next_open_ = open_sessions_;
  if (open_sessions_) open_sessions_->prev_open_ = session;
  open_sessions_ = session;
  ++open_count_;
}

void Worker::unlinkSession(stream::ClientConnection* session) {
  if (session->prev_open_)
    session->prev_open_->next_open_ = session->next_open_;
  else if (open_sessions_ == session)
    open_sessions_ = session->next_open_;
  else
    return;  // not linked
  if (session->next_open_) session->next_open_->prev_open_ = session->prev_open_;
  session->prev_open_ = session->next_open_ = nullptr;
  --open_count_;
}

std::vector<stream::ClientConnection*> Worker::openSessions() const {
  std::vector<stream::ClientConnection*> open;
  open.reserve(open_count_);
  for (auto* s = open_sessions_; s; s = s->next_open_) open.push_back(s);
  return open;
}

void Worker::maybeExit() {
  if (open_count_ > 0) return;
  loop_.runLater([this] {
    flushAccessLog();
    event_base_loopbreak(loop_.base());
  });
}

void Worker::appendAccessLog(const std::string& line) {
  log_buffer_.append(line);
  if (log_buffer_.size() >= kAccessLogFlushBytes)
    flushAccessLog();
  else if (!log_flush_timer_.pending())
    log_flush_timer_.start(kAccessLogFlushEvery);
}

void Worker::flushAccessLog() {
  if (log_buffer_.empty() || !hooks_.access_log) return;
  hooks_.access_log->submit(std::move(log_buffer_));
  log_buffer_.clear();
}

}  // namespace lb::core
