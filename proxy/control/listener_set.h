// The proxy's listening sockets: one SO_REUSEPORT socket per worker for each listener (the
// kernel spreads connections, and a connection never changes worker). A reload changes them as
// a transaction: prepare() opens every listener that is new or moved, and fails whole when one
// port cannot be bound; commit() makes the change current; a Change dropped without commit
// closes what it opened. Listeners whose name and address stay keep their sockets in the
// workers. Main thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lb::control {

class ListenerSet {
 public:
  struct Bound {
    std::string address;  // as configured
    uint16_t port = 0;    // bound (differs from the address's for port 0)
  };
  using WorkerFds = std::vector<std::map<std::string, int>>;  // per worker: listener -> fd

  class Change {
   public:
    Change() = default;
    Change(Change&& other) noexcept;
    Change& operator=(Change&& other) noexcept;
    Change(const Change&) = delete;
    Change& operator=(const Change&) = delete;
    ~Change();  // closes the sockets nobody took

    // The new sockets, per worker, for Worker::applySnapshot (or the constructor). Once.
    WorkerFds takeFds() { return std::move(fds_); }
    // Listeners this change opens, with their bound ports, and those it closes.
    const std::vector<std::pair<std::string, Bound>>& added() const { return added_; }
    const std::vector<std::string>& removed() const { return removed_; }

   private:
    friend class ListenerSet;
    std::map<std::string, Bound> next_;
    WorkerFds fds_;
    std::vector<std::pair<std::string, Bound>> added_;
    std::vector<std::string> removed_;
  };

  // `wanted`: name -> address of every listener the new config has. nullopt + *error (naming
  // the listener) when a socket cannot be opened; nothing changes then.
  std::optional<Change> prepare(const std::vector<std::pair<std::string, std::string>>& wanted,
                                size_t workers, std::string* error) const;
  void commit(Change& change) { bound_ = std::move(change.next_); }

  const std::map<std::string, Bound>& bound() const { return bound_; }

 private:
  std::map<std::string, Bound> bound_;
};

}  // namespace lb::control
