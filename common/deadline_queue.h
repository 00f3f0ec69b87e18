// Timers for many connections at little cost each: one libevent timer per queue, and an
// entry embedded in the connection (48 bytes, no allocation) instead of a struct event each.
// Connections use a handful of durations (handshake, request head, keep-alive idle,
// lingering), and timers of one duration expire in the order they were started, so each
// duration is a FIFO lane: start and cancel are O(1), and the queue's timer is armed for the
// earliest lane head. This is what libevent's "common timeouts" do inside, without the event.
//
// Owner: the loop's thread. The queue must outlive its entries' pending time: an entry
// unlinks itself when destroyed or cancelled.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <vector>

struct event;

namespace lb::common {

class EventLoop;

class DeadlineQueue {
 public:
  using Clock = std::chrono::steady_clock;
  struct Lane;

  class Entry {
   public:
    using Fn = void (*)(void* arg) noexcept;  // called from the loop: must not throw
    Entry(Fn fn, void* arg) : fn_(fn), arg_(arg) {}
    ~Entry() { cancel(); }
    Entry(const Entry&) = delete;
    Entry& operator=(const Entry&) = delete;

    bool pending() const { return lane_ != nullptr; }
    void cancel();

   private:
    friend class DeadlineQueue;
    Fn fn_;
    void* arg_;
    Lane* lane_ = nullptr;
    Entry* prev_ = nullptr;
    Entry* next_ = nullptr;
    Clock::time_point deadline_;
  };

  explicit DeadlineQueue(EventLoop& loop);
  ~DeadlineQueue();
  DeadlineQueue(const DeadlineQueue&) = delete;
  DeadlineQueue& operator=(const DeadlineQueue&) = delete;

  // (Re)starts `entry`: its function runs `after` from now (at least 1 ms), unless cancelled.
  void start(Entry& entry, std::chrono::milliseconds after);
  // Runs the functions of the entries whose deadline has passed by the loop's clock: what the
  // queue's timer does when it fires. Tests on a ManualClock call it after advancing time.
  void expireDue();

  struct Lane {
    std::chrono::milliseconds duration;
    Entry* head = nullptr;
    Entry* tail = nullptr;
  };

 private:
  static void onTimer(int, short, void* arg) noexcept;
  void arm();

  EventLoop& loop_;
  event* timer_;
  std::vector<std::unique_ptr<Lane>> lanes_;  // few: one per duration in use
  bool armed_ = false;
  Clock::time_point armed_for_;
};

}  // namespace lb::common
