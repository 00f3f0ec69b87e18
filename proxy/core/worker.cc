#include "proxy/core/worker.h"

#include <unistd.h>

#include <random>

#include "proxy/log/access_log.h"
#include "proxy/stream/downstream_session.h"

namespace lb::core {

namespace {
constexpr size_t kAccessLogFlushBytes = 64 * 1024;
constexpr std::chrono::milliseconds kAccessLogFlushEvery{100};
}  // namespace

Worker::Worker(uint32_t id, std::shared_ptr<const snapshot::Snapshot> snapshot,
               std::vector<int> listen_fds, log::AccessLogWriter* access_log,
               std::chrono::milliseconds shutdown_timeout)
    : id_(id),
      snapshot_(std::move(snapshot)),
      listen_fds_(std::move(listen_fds)),
      access_log_(access_log),
      shutdown_timeout_(shutdown_timeout),
      random_(std::random_device{}() ^ (uint64_t{id} << 32)),
      log_flush_timer_(loop_, [this] { flushAccessLog(); }),
      shutdown_timer_(loop_, [this] {
        // Deadline passed: close what is still open.
        std::vector<stream::DownstreamSession*> open(sessions_.begin(), sessions_.end());
        for (auto* s : open) s->forceClose();
      }) {
  clusters_.resize(snapshot_->clusters.size());
  for (size_t i = 0; i < clusters_.size(); ++i) {
    WorkerCluster& wc = clusters_[i];
    wc.config = &snapshot_->clusters[i];
    for (const auto& host : wc.config->hosts) {
      wc.hosts.push_back({host.get(), 0});
      wc.pools.push_back(std::make_unique<upstream::ConnectionPool>(
          loop_, wc.config->config.max_idle_per_host, wc.config->config.idle_timeout));
    }
    wc.balancer = upstream::makeLoadBalancer(wc.config->config.balancer, wc.hosts, random_);
  }
}

Worker::~Worker() {
  for (auto& l : listeners_)
    if (l->listener) evconnlistener_free(l->listener);
  for (int fd : listen_fds_)
    if (fd >= 0) close(fd);
}

void Worker::start() {
  for (uint32_t i = 0; i < listen_fds_.size(); ++i) {
    auto ctx = std::make_unique<ListenerCtx>(ListenerCtx{this, i, nullptr});
    ctx->listener = evconnlistener_new(loop_.base(), onAccept, ctx.get(), LEV_OPT_CLOSE_ON_FREE, -1,
                                       listen_fds_[i]);
    listen_fds_[i] = -1;  // the evconnlistener owns it now
    listeners_.push_back(std::move(ctx));
  }
  thread_ = std::thread([this] {
    loop_.run();
    // Anything left after the loop stops (forced exit) is closed here, on this thread.
    std::vector<stream::DownstreamSession*> open(sessions_.begin(), sessions_.end());
    for (auto* s : open) s->forceClose();
    flushAccessLog();
    clusters_.clear();
  });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::beginShutdown() {
  loop_.post([this] {
    if (draining_) return;
    draining_ = true;
    for (auto& l : listeners_) {
      evconnlistener_disable(l->listener);
      evconnlistener_free(l->listener);
      l->listener = nullptr;
    }
    shutdown_timer_.start(shutdown_timeout_);
    std::vector<stream::DownstreamSession*> open(sessions_.begin(), sessions_.end());
    for (auto* s : open) s->beginShutdown();
    maybeExit();
  });
}

void Worker::onAccept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int, void* arg) {
  auto* ctx = static_cast<ListenerCtx*>(arg);
  Worker* self = ctx->worker;
  auto* session = new stream::DownstreamSession(*self, ctx->index, fd, addr);
  self->sessions_.insert(session);
  session->start();
}

void Worker::sessionClosed(stream::DownstreamSession* session) {
  sessions_.erase(session);
  loop_.runLater([session] { delete session; });
  if (draining_) maybeExit();
}

void Worker::maybeExit() {
  if (!sessions_.empty()) return;
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
  if (log_buffer_.empty() || !access_log_) return;
  access_log_->submit(std::move(log_buffer_));
  log_buffer_.clear();
}

}  // namespace lb::core
