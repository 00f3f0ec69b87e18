// One libevent event_base with a thread-safe post() and end-of-turn deferred work.
// Owner: the thread that calls run(). post() and stop() may be called from any thread;
// everything else only from the owner thread.
#pragma once

#include <event2/event.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <vector>

namespace lb::common {

class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  event_base* base() const { return base_; }

  // Any thread: run `fn` on the loop thread, in order of posting.
  void post(std::function<void()> fn);
  // Owner thread: run `fn` at the end of this loop turn (e.g. to delete an object whose
  // callback is still on the stack).
  void runLater(std::function<void()> fn);

  void run();   // owner thread; returns after stop()
  void stop();  // any thread

 private:
  static void onWake(evutil_socket_t fd, short, void* arg);
  static void onDeferred(evutil_socket_t, short, void* arg);

  event_base* base_ = nullptr;
  int wake_fd_ = -1;  // eventfd
  event* wake_event_ = nullptr;
  event* deferred_event_ = nullptr;
  std::mutex mutex_;
  std::vector<std::function<void()>> posted_;  // guarded by mutex_
  std::vector<std::function<void()>> deferred_;
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
  static void onFire(evutil_socket_t, short, void* arg);
  event* event_;
  std::function<void()> fn_;
};

}  // namespace lb::common
