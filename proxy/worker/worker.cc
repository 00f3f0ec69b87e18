#include "proxy/worker/worker.h"

#include <unistd.h>

#include "proxy/stream/client_connection.h"
#include "proxy/stream/downstream_session.h"

namespace lb::worker {

namespace {
int64_t nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

Worker::Worker(uint32_t id, std::shared_ptr<const snapshot::Snapshot> snapshot,
               std::map<std::string, int> listen_fds, WorkerHooks hooks)
    : id_(id),
      shutdown_timeout_(hooks.shutdown_timeout),
      pending_fds_(std::move(listen_fds)),
      ctx_(id, std::move(hooks.context), std::move(snapshot)),
      shutdown_timer_(ctx_.loop(), [this] {
        // Deadline passed: close what is still open.
        for (auto* s : ctx_.openSessions()) s->forceClose();
      }) {}

Worker::~Worker() {
  for (auto& l : listeners_)
    if (l->listener) evconnlistener_free(l->listener);
  for (auto& [name, fd] : pending_fds_)
    if (fd >= 0) close(fd);
}

void Worker::addListener(const std::string& name, int fd) {
  auto ctx = std::make_unique<ListenerCtx>(ListenerCtx{this, name, nullptr});
  ctx->listener =
      evconnlistener_new(ctx_.loop().base(), onAccept, ctx.get(), LEV_OPT_CLOSE_ON_FREE, -1, fd);
  listeners_.push_back(std::move(ctx));
}

void Worker::start() {
  for (auto& [name, fd] : pending_fds_) {
    addListener(name, fd);
    fd = -1;  // the evconnlistener owns it now
  }
  pending_fds_.clear();
  thread_ = std::thread([this] {
    ctx_.loop().run();
    // Anything left after the loop stops (forced exit) is closed here, on this thread.
    for (auto* s : ctx_.openSessions()) s->forceClose();
    ctx_.flushAccessLog();
    ctx_.releaseView();
  });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::applySnapshot(std::shared_ptr<const snapshot::Snapshot> snapshot,
                           std::map<std::string, int> new_fds, std::function<void()> done) {
  ctx_.loop().post([this, snapshot = std::move(snapshot), new_fds = std::move(new_fds),
                    done = std::move(done)]() mutable {
    ctx_.applySnapshot(std::move(snapshot));
    // Listeners that are gone stop accepting now.
    for (auto it = listeners_.begin(); it != listeners_.end();) {
      if (ctx_.listenerIndex((*it)->name) < 0) {
        if ((*it)->listener) evconnlistener_free((*it)->listener);
        it = listeners_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& [name, fd] : new_fds) {
      if (ctx_.draining())
        close(fd);
      else
        addListener(name, fd);
    }
    for (auto* s : ctx_.openSessions()) s->onViewChanged();
    if (done) done();
  });
}

void Worker::closeIdle(std::shared_ptr<upstream::HostState> host, std::function<void()> done) {
  ctx_.loop().post([this, host = std::move(host), done = std::move(done)] {
    auto it = ctx_.hosts().find(host.get());
    if (it != ctx_.hosts().end()) it->second->pool.closeAll();
    if (done) done();
  });
}

void Worker::abortHost(std::shared_ptr<upstream::HostState> host, std::function<void()> done) {
  ctx_.loop().post([this, host = std::move(host), done = std::move(done)] {
    for (auto* s : ctx_.openSessions()) s->abortIfUsing(host.get());
    auto it = ctx_.hosts().find(host.get());
    if (it != ctx_.hosts().end()) it->second->pool.closeAll();
    if (done) done();
  });
}

void Worker::collect(uint32_t window_s, std::function<void(WorkerReport)> done) {
  ctx_.loop().post([this, window_s, done = std::move(done)] {
    WorkerReport report;
    int64_t now = nowSeconds();
    for (auto& [name, stats] : ctx_.routeStats())
      stats->report(now, window_s, &report.routes[name]);
    for (auto& [state, local] : ctx_.hosts()) {
      WorkerReport::Host& h = report.hosts[state];
      local->stats.report(now, window_s, &h.report);
      h.active_requests = local->load.active_requests;
      h.idle_connections = static_cast<uint32_t>(local->pool.idleCount());
    }
    // The current view's queues (an old view's waiting requests finish or time out there).
    for (const auto* list : {&ctx_.view()->clusters, &ctx_.view()->subsets})
      for (const auto& c : *list)
        if (c.queued) report.cluster_queued[c.config->config.name] += c.queued;
    report.listeners = ctx_.allListenerCounters();
    report.downstream_connections = ctx_.openCount();
    done(std::move(report));
  });
}

void Worker::beginShutdown() {
  ctx_.loop().post([this] {
    if (ctx_.draining()) return;
    ctx_.beginDraining([this] { maybeExit(); });
    for (auto& l : listeners_) {
      if (l->listener) evconnlistener_free(l->listener);
      l->listener = nullptr;
    }
    shutdown_timer_.start(shutdown_timeout_);
    for (auto* s : ctx_.openSessions()) s->beginShutdown();
    maybeExit();
  });
}

void Worker::onAccept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int,
                      void* arg) noexcept {
  auto* listener = static_cast<ListenerCtx*>(arg);
  stream::WorkerContext& ctx = listener->worker->ctx_;
  int index = ctx.listenerIndex(listener->name);
  if (index < 0) {
    ::close(fd);
    return;
  }
  auto* session = new stream::DownstreamSession(ctx, static_cast<uint32_t>(index), fd, addr);
  ctx.addSession(session);
  session->start();
}

void Worker::maybeExit() {
  if (ctx_.openCount() > 0) return;
  ctx_.loop().runLater([this] {
    ctx_.flushAccessLog();
    event_base_loopbreak(ctx_.loop().base());
  });
}

}  // namespace lb::worker
