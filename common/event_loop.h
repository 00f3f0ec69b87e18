// One libevent event_base with a thread-safe post() and end-of-turn deferred work.
// Owner: the thread that calls run(). post() and stop() may be called from any thread;
// everything else only from the owner thread.
#pragma once

#include <event2/event.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <vector>

#include "common/clock.h"

namespace lb::common {

class EventLoop {
 public:
  // `clock` (not owned; null: the steady clock) is what now() and the timer queues read.
  explicit EventLoop(const Clock* clock = nullptr);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  event_base* base() const { return base_; }

  // Any thread: run `fn` on the loop thread, in order of posting.
  void post(std::function<void()> fn);
  // Owner thread: run `fn` at the end of this loop turn (e.g. to delete an object whose
  // callback is still on the stack).
  void runLater(std::function<void()> fn);
  // Owner thread: call fn(arg) at the end of this loop turn, without allocating (a stream's
  // coalesced write). cancelCall() forgets every pending call of fn with arg.
  using CallFn = void (*)(void* arg) noexcept;  // called from the loop: must not throw
  void deferCall(CallFn fn, void* arg);
  void cancelCall(CallFn fn, void* arg);
  // Runs the pending calls now (an I/O callback is done: its writes go out before the next
  // connection's event is handled, not after every event of the turn). Not from a call.
  void runCallsNow();
  // Like deferCall, but only at the end of the turn, after every event of it and before
  // the deferCall calls (which it may add to): for work that gains from batching the whole
  // turn, such as an HTTP/2 session turning many streams' data into frames for one write.
  // cancelCall() forgets these too.
  void deferToTurnEnd(CallFn fn, void* arg);

  // Owner thread: spare blocks of kBlockSize bytes shared by the loop's streams (their input
  // and output), so that an idle connection holds none and a busy one allocates none.
  // giveBlock() keeps a block of that size while few are spare and frees any other.
  static constexpr size_t kBlockSize = 16 * 1024;
  char* takeBlock();
  void giveBlock(char* block, size_t size);

  // Owner thread: the loop's clock, read at most once per event. Inside an EventScope (a
  // stream's I/O callback, a timer, the end-of-turn calls) every call returns the reading the
  // first one took, so the work of one event is stamped with one time, as nginx stamps a
  // whole loop turn; that saves ~8 clock reads per proxied request. Outside any scope each
  // call reads the clock.
  std::chrono::steady_clock::time_point now() {
    if (event_depth_ == 0) return readClock();
    if (!now_valid_) {
      now_ = readClock();
      now_valid_ = true;
    }
    return now_;
  }
  // A fresh reading of the loop's clock, whatever the scope.
  std::chrono::steady_clock::time_point readClock() const {
    return clock_ ? clock_->now() : std::chrono::steady_clock::now();
  }
  class EventScope {
   public:
    explicit EventScope(EventLoop& loop) : loop_(loop) { ++loop_.event_depth_; }
    ~EventScope() {
      if (--loop_.event_depth_ == 0) loop_.now_valid_ = false;
    }
    EventScope(const EventScope&) = delete;
    EventScope& operator=(const EventScope&) = delete;

   private:
    EventLoop& loop_;
  };

  void run();   // owner thread; returns after stop()
  void stop();  // any thread

 private:
  static void onWake(evutil_socket_t fd, short, void* arg) noexcept;
  static void onDeferred(evutil_socket_t, short, void* arg) noexcept;
  void armDeferred();

  struct Call {
    CallFn fn;
    void* arg;
  };

  const Clock* clock_;
  event_base* base_ = nullptr;
  int wake_fd_ = -1;  // eventfd
  event* wake_event_ = nullptr;
  event* deferred_event_ = nullptr;
  std::mutex mutex_;
  std::vector<std::function<void()>> posted_;  // guarded by mutex_
  // Deferred work is double-buffered: what is added while a batch runs goes to the next one,
  // and both vectors keep their capacity.
  std::vector<std::function<void()>> deferred_;
  std::vector<std::function<void()>> running_work_;
  std::vector<Call> calls_;
  std::vector<Call> running_calls_;
  std::vector<Call> turn_calls_;
  std::vector<Call> running_turn_calls_;
  bool deferred_armed_ = false;
  bool running_calls_now_ = false;
  std::vector<char*> spare_blocks_;
  int event_depth_ = 0;
  bool now_valid_ = false;
  std::chrono::steady_clock::time_point now_;
};

// A one-shot timer on a loop; re-arm with start(). Owner thread only.
class Timer {
 public:
  Timer(EventLoop& loop, std::function<void()> fn);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  void start(std::chrono::milliseconds after);
  void cancel();
  bool pending() const;

 private:
  static void onFire(evutil_socket_t, short, void* arg) noexcept;
  EventLoop& loop_;
  event* event_;
  std::function<void()> fn_;
};

}  // namespace lb::common
