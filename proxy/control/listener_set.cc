#include "proxy/control/listener_set.h"

#include <unistd.h>

#include "proxy/net/listen_socket.h"

namespace lb::control {

namespace {

void closeAll(ListenerSet::WorkerFds& fds) {
  for (auto& m : fds)
    for (auto& [name, fd] : m) ::close(fd);
  fds.clear();
}

}  // namespace

ListenerSet::Change::Change(Change&& other) noexcept
    : next_(std::move(other.next_)),
      fds_(std::move(other.fds_)),
      added_(std::move(other.added_)),
      removed_(std::move(other.removed_)) {
  other.fds_.clear();
}

ListenerSet::Change& ListenerSet::Change::operator=(Change&& other) noexcept {
  if (this != &other) {
    closeAll(fds_);
    next_ = std::move(other.next_);
    fds_ = std::move(other.fds_);
    other.fds_.clear();
    added_ = std::move(other.added_);
    removed_ = std::move(other.removed_);
  }
  return *this;
}

ListenerSet::Change::~Change() { closeAll(fds_); }

std::optional<ListenerSet::Change> ListenerSet::prepare(
    const std::vector<std::pair<std::string, std::string>>& wanted, size_t workers,
    std::string* error) const {
  Change c;
  c.fds_.resize(workers);
  for (const auto& [name, address] : wanted) {
    auto it = bound_.find(name);
    if (it != bound_.end() && it->second.address == address) {
      c.next_[name] = it->second;
      continue;
    }
    uint16_t port = 0;
    for (auto& worker_fds : c.fds_) {
      uint16_t got = 0;
      int fd = net::openListenSocket(address, port, &got, error);
      if (fd < 0) {
        *error = "listener " + name + ": " + *error;
        return std::nullopt;  // c closes what it opened
      }
      port = got;
      worker_fds[name] = fd;
    }
    c.next_[name] = {address, port};
    c.added_.emplace_back(name, Bound{address, port});
  }
  for (const auto& [name, b] : bound_)
    if (!c.next_.count(name)) c.removed_.push_back(name);
  return c;
}

}  // namespace lb::control
