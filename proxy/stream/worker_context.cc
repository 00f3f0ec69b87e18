#include "proxy/stream/worker_context.h"

#include <algorithm>
#include <random>

#include "proxy/log/access_log.h"
#include "proxy/stream/client_connection.h"
#include "proxy/stream/h2_stream.h"
#include "proxy/stream/http1_request.h"
#include "proxy/stream/request_pool.h"
#include "proxy/stream/worker_share.h"

namespace lb::stream {

namespace {
constexpr size_t kAccessLogFlushBytes = 64 * 1024;
constexpr std::chrono::milliseconds kAccessLogFlushEvery{100};
}  // namespace

WorkerHost::WorkerHost(common::EventLoop& loop, common::DeadlineQueue& deadlines,
                       std::shared_ptr<upstream::HostState> host,
                       const config::ClusterConfig& cluster)
    : state(std::move(host)),
      pool(loop, deadlines, cluster.max_idle_per_host, cluster.idle_timeout) {}

WorkerContext::WorkerContext(uint32_t id, Hooks hooks,
                             std::shared_ptr<const snapshot::Snapshot> snapshot,
                             const common::Clock* clock)
    : hooks_(std::move(hooks)),
      id_(id),
      loop_(clock),
      random_(std::random_device{}() ^ (uint64_t{id} << 32)),
      log_flush_timer_(loop_, [this] { flushAccessLog(); }),
      deadlines_(loop_),
      http1_requests_(std::make_unique<RequestPool<Http1Request>>(*this)),
      h2_streams_(std::make_unique<RequestPool<H2Stream>>(*this)) {
  applySnapshot(std::move(snapshot));
}

WorkerContext::~WorkerContext() = default;

uint32_t WorkerContext::shareOf(uint32_t total) const {
  return workerShare(total, hooks_.workers, id_);
}

void WorkerContext::applySnapshot(std::shared_ptr<const snapshot::Snapshot> snapshot) {
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
      if (local->tls_context != wc.config->tls) {
        // TLS settings or files changed: connections and sessions of the old ones go.
        local->pool.closeAll();
        local->tls_sessions.clear();
        local->tls_context = wc.config->tls;
      }
      // Limits may change on reload: every view sets this worker's share again.
      const config::ClusterLimits& limits = wc.config->config.limits;
      uint32_t max_active = UINT32_MAX;
      if (limits.max_requests_per_host) max_active = shareOf(limits.max_requests_per_host);
      local->max_connections = UINT32_MAX;
      if (limits.max_connections_per_host) {
        local->max_connections = shareOf(limits.max_connections_per_host);
        max_active = std::min(max_active, local->max_connections);  // a request holds one
      }
      local->load.max_active = max_active;
      hosts[host.get()] = local;
      wc.hosts.push_back({host.get(), &local->load});
      wc.locals.push_back(std::move(local));
    }
    wc.balancer = upstream::makeLoadBalancer(wc.config->config.balancer, wc.hosts, random_);
    wc.max_queued = shareOf(wc.config->config.limits.max_queued);
  }
  view->subsets.resize(snap.subsets.size());
  for (size_t i = 0; i < snap.subsets.size(); ++i) {
    const snapshot::SubsetSnapshot& subset = snap.subsets[i];
    const WorkerCluster& parent = view->clusters[subset.cluster];
    WorkerCluster& wc = view->subsets[i];
    wc.config = parent.config;
    for (uint32_t h : subset.hosts) {
      wc.hosts.push_back(parent.hosts[h]);
      wc.locals.push_back(parent.locals[h]);
    }
    wc.balancer = upstream::makeLoadBalancer(wc.config->config.balancer, wc.hosts, random_);
    wc.max_queued = parent.max_queued;
  }
  // Both vectors are final now: the pointers stay valid for the view's life.
  for (size_t i = 0; i < snap.subsets.size(); ++i) {
    WorkerCluster& parent = view->clusters[snap.subsets[i].cluster];
    for (WorkerCluster* other : parent.sharing) {
      other->sharing.push_back(&view->subsets[i]);
      view->subsets[i].sharing.push_back(other);
    }
    view->subsets[i].sharing.push_back(&parent);
    parent.sharing.push_back(&view->subsets[i]);
  }
  // Split state carries over from the view before for a route of the same name and the same
  // weights: a new view (a reload, another runtime change) does not restart every split's
  // sequence, which would hand the heaviest destination each view's first requests. Changed
  // weights start afresh: the state of the old ones could pick a destination now at 0.
  std::map<std::string_view, std::pair<const router::RouteEntry*, const std::vector<int64_t>*>>
      previous_splits;
  if (view_)
    for (const auto& listener : view_->snapshot->listeners)
      for (const auto& route : listener.routes.entries())
        if (route.destinations.size() > 1)
          previous_splits[route.name] = {&route, &view_->splits[route.stats_index]};
  auto sameWeights = [](const router::RouteEntry& a, const router::RouteEntry& b) {
    if (a.destinations.size() != b.destinations.size()) return false;
    for (size_t i = 0; i < a.destinations.size(); ++i)
      if (a.destinations[i].weight != b.destinations[i].weight) return false;
    return true;
  };
  view->splits.resize(snap.routes.size());
  for (const auto& listener : snap.listeners)
    for (const auto& route : listener.routes.entries()) {
      if (route.destinations.size() < 2) continue;
      std::vector<int64_t>& split = view->splits[route.stats_index];
      auto it = previous_splits.find(route.name);
      if (it != previous_splits.end() && sameWeights(*it->second.first, route))
        split = *it->second.second;
      else
        split.assign(route.destinations.size(), 0);
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

void WorkerContext::releaseView() {
  view_.reset();
  hosts_.clear();
}

int WorkerContext::listenerIndex(const std::string& name) const {
  const auto& ls = view_->snapshot->listeners;
  for (size_t i = 0; i < ls.size(); ++i)
    if (ls[i].name == name) return static_cast<int>(i);
  return -1;
}

void WorkerContext::beginDraining(std::function<void()> on_idle) {
  draining_ = true;
  on_idle_ = std::move(on_idle);
}

void WorkerContext::reportHostResult(WorkerHost& host, const config::OutlierConfig& outlier,
                                     bool server_error, bool connect_failure) {
  if (!outlier.enabled) return;
  host.consecutive_5xx = server_error ? host.consecutive_5xx + 1 : 0;
  host.consecutive_connect_failures = connect_failure ? host.consecutive_connect_failures + 1 : 0;
  if (!hooks_.on_outlier) return;
  if (host.consecutive_5xx >= outlier.consecutive_5xx) {
    host.consecutive_5xx = 0;
    hooks_.on_outlier(host.state, OutlierKind::kConsecutive5xx);
  } else if (host.consecutive_connect_failures >= outlier.consecutive_connect_failures) {
    host.consecutive_connect_failures = 0;
    hooks_.on_outlier(host.state, OutlierKind::kConsecutiveConnectFailures);
  }
}

void WorkerContext::addSession(ClientConnection* session) {
  session->prev_open_ = nullptr;
  session->next_open_ = open_sessions_;
  if (open_sessions_) open_sessions_->prev_open_ = session;
  open_sessions_ = session;
  ++open_count_;
}

void WorkerContext::sessionClosed(ClientConnection* session) {
  unlinkSession(session);
  loop_.runLater([session] { delete session; });
  if (draining_ && open_count_ == 0 && on_idle_) on_idle_();
}

void WorkerContext::unlinkSession(ClientConnection* session) {
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

std::vector<ClientConnection*> WorkerContext::openSessions() const {
  std::vector<ClientConnection*> open;
  open.reserve(open_count_);
  for (auto* s = open_sessions_; s; s = s->next_open_) open.push_back(s);
  return open;
}

void WorkerContext::appendAccessLog(const std::string& line) {
  log_buffer_.append(line);
  if (log_buffer_.size() >= kAccessLogFlushBytes)
    flushAccessLog();
  else if (!log_flush_timer_.pending())
    log_flush_timer_.start(kAccessLogFlushEvery);
}

void WorkerContext::flushAccessLog() {
  if (log_buffer_.empty() || !hooks_.access_log) return;
  hooks_.access_log->submit(std::move(log_buffer_));
  log_buffer_.clear();
}

}  // namespace lb::stream
