#include "common/event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace lb::common {

EventLoop::EventLoop(const Clock* clock) : clock_(clock) {
  base_ = event_base_new();
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (!base_ || wake_fd_ < 0) {
    std::perror("event loop");
    std::abort();
  }
  wake_event_ = event_new(base_, wake_fd_, EV_READ | EV_PERSIST, onWake, this);
  event_add(wake_event_, nullptr);
  deferred_event_ = event_new(base_, -1, 0, onDeferred, this);
}

namespace {
constexpr size_t kMaxSpareBlocks = 256;
}

EventLoop::~EventLoop() {
  for (char* block : spare_blocks_) delete[] block;
  event_free(deferred_event_);
  event_free(wake_event_);
  close(wake_fd_);
  event_base_free(base_);
}

void EventLoop::post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    posted_.push_back(std::move(fn));
  }
  uint64_t one = 1;
  ssize_t n = write(wake_fd_, &one, sizeof(one));
  (void)n;  // EAGAIN means a wake-up is already pending
}

void EventLoop::runLater(std::function<void()> fn) {
  deferred_.push_back(std::move(fn));
  armDeferred();
}

void EventLoop::deferCall(CallFn fn, void* arg) {
  calls_.push_back({fn, arg});
  armDeferred();
}

void EventLoop::cancelCall(CallFn fn, void* arg) {
  for (auto* list : {&calls_, &running_calls_, &turn_calls_, &running_turn_calls_})
    for (Call& c : *list)
      if (c.fn == fn && c.arg == arg) c.fn = nullptr;
}

void EventLoop::runCallsNow() {
  if (calls_.empty() || running_calls_now_) return;
  running_calls_now_ = true;
  // Calls added while these run (a write callback that writes again) wait for the next
  // batch. Calls are read by index: one may cancel a later one (its stream was released).
  running_calls_.swap(calls_);
  for (size_t i = 0; i < running_calls_.size(); ++i) {
    Call c = running_calls_[i];
    if (c.fn) c.fn(c.arg);
  }
  running_calls_.clear();
  running_calls_now_ = false;
}

void EventLoop::deferToTurnEnd(CallFn fn, void* arg) {
  turn_calls_.push_back({fn, arg});
  armDeferred();
}

void EventLoop::armDeferred() {
  if (deferred_armed_) return;
  deferred_armed_ = true;
  event_active(deferred_event_, 0, 0);
}

char* EventLoop::takeBlock() {
  if (spare_blocks_.empty()) return new char[kBlockSize];
  char* block = spare_blocks_.back();
  spare_blocks_.pop_back();
  return block;
}

void EventLoop::giveBlock(char* block, size_t size) {
  if (size != kBlockSize || spare_blocks_.size() >= kMaxSpareBlocks) {
    delete[] block;
    return;
  }
  spare_blocks_.push_back(block);
}

void EventLoop::run() { event_base_loop(base_, EVLOOP_NO_EXIT_ON_EMPTY); }

void EventLoop::stop() {
  post([this] { event_base_loopbreak(base_); });
}

void EventLoop::onWake(evutil_socket_t fd, short, void* arg) noexcept {
  auto* self = static_cast<EventLoop*>(arg);
  EventScope scope(*self);
  uint64_t count;
  ssize_t n = read(fd, &count, sizeof(count));
  (void)n;
  std::vector<std::function<void()>> work;
  {
    std::lock_guard<std::mutex> lock(self->mutex_);
    work.swap(self->posted_);
  }
  for (auto& fn : work) fn();
}

void EventLoop::onDeferred(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<EventLoop*>(arg);
  EventScope scope(*self);
  self->deferred_armed_ = false;
  // End-of-turn calls first: what they write is queued as stream calls, which run next.
  self->running_turn_calls_.swap(self->turn_calls_);
  for (size_t i = 0; i < self->running_turn_calls_.size(); ++i) {
    Call c = self->running_turn_calls_[i];
    if (c.fn) c.fn(c.arg);
  }
  self->running_turn_calls_.clear();
  self->runCallsNow();
  // Work deferred by deferred work runs in the next batch.
  self->running_work_.swap(self->deferred_);
  for (auto& fn : self->running_work_) fn();
  self->running_work_.clear();
}

Timer::Timer(EventLoop& loop, std::function<void()> fn)
    : loop_(loop), event_(evtimer_new(loop.base(), onFire, this)), fn_(std::move(fn)) {}

Timer::~Timer() { event_free(event_); }

void Timer::start(std::chrono::milliseconds after) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(after.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((after.count() % 1000) * 1000);
  evtimer_add(event_, &tv);
}

void Timer::cancel() { evtimer_del(event_); }

bool Timer::pending() const { return evtimer_pending(event_, nullptr); }

void Timer::onFire(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<Timer*>(arg);
  EventLoop::EventScope scope(self->loop_);
  self->fn_();
}

}  // namespace lb::common
