#include "proxy/upstream/connection_pool.h"

#include <algorithm>
#include <iterator>

namespace lb::upstream {

UpstreamConnection::UpstreamConnection(net::Stream* stream, uint32_t host_index)
    : parser(http::Http1HeadParser::Kind::kResponse, http::HeadLimits{65536, 65536, 200}),
      stream_(stream),
      host_index_(host_index) {
  stream_->setCallbacks(onRead, onWrite, onEvent, this);
}

UpstreamConnection::~UpstreamConnection() { stream_->release(); }

void UpstreamConnection::onRead(net::Stream*, void* arg) noexcept {
  auto* self = static_cast<UpstreamConnection*>(arg);
  if (self->handler_)
    self->handler_->onUpstreamRead();
  else if (self->idle_in_)
    self->idle_in_->drop(self);  // unsolicited bytes: not reusable
}

void UpstreamConnection::onWrite(net::Stream*, void* arg) noexcept {
  auto* self = static_cast<UpstreamConnection*>(arg);
  if (self->handler_) self->handler_->onUpstreamWrite();
}

void UpstreamConnection::onEvent(net::Stream*, net::StreamEvent event, void* arg) noexcept {
  auto* self = static_cast<UpstreamConnection*>(arg);
  if (self->handler_)
    self->handler_->onUpstreamEvent(event);
  else if (self->idle_in_)
    self->idle_in_->drop(self);
}

void UpstreamConnection::onIdleTimeout(void* arg) noexcept {
  auto* self = static_cast<UpstreamConnection*>(arg);
  if (self->idle_in_) self->idle_in_->drop(self);
}

ConnectionPool::~ConnectionPool() { closeAll(); }

std::unique_ptr<UpstreamConnection> ConnectionPool::take(std::string_view proxy_header) {
  // Newest first; without PROXY headers the newest always matches.
  auto it = idle_.rbegin();
  while (it != idle_.rend() && (*it)->proxy_header != proxy_header) ++it;
  if (it == idle_.rend()) return nullptr;
  std::unique_ptr<UpstreamConnection> conn = std::move(*it);
  idle_.erase(std::next(it).base());
  conn->idle_in_ = nullptr;
  conn->idle_timer_.cancel();
  conn->reused = true;
  return conn;
}

void ConnectionPool::closeOldest() {
  if (idle_.empty()) return;
  idle_.front()->idle_timer_.cancel();
  idle_.erase(idle_.begin());  // the destructor closes it
}

void ConnectionPool::release(std::unique_ptr<UpstreamConnection> conn) {
  if (idle_.size() >= max_idle_) return;  // closes it
  conn->setHandler(nullptr);
  conn->idle_in_ = this;
  // Watch for the peer closing it; any read while idle drops it.
  conn->stream()->setReadHighWater(0);
  conn->stream()->setWriteLowWater(0);
  conn->stream()->enableRead();
  deadlines_.start(conn->idle_timer_, idle_timeout_);
  idle_.push_back(std::move(conn));
}

void ConnectionPool::drop(UpstreamConnection* conn) {
  auto it =
      std::find_if(idle_.begin(), idle_.end(), [&](const auto& c) { return c.get() == conn; });
  if (it == idle_.end()) return;
  // Deleting inside its own callback: move it out now, free it at the end of the loop turn.
  std::shared_ptr<UpstreamConnection> doomed(std::move(*it));
  idle_.erase(it);
  doomed->idle_in_ = nullptr;
  loop_.runLater([doomed] {});
}

void ConnectionPool::closeAll() { idle_.clear(); }

}  // namespace lb::upstream
