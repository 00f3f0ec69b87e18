#include "common/deadline_queue.h"

#include <event2/event.h>

#include "common/event_loop.h"

namespace lb::common {

namespace {
// Empty lanes beyond this many are dropped (durations change with reloads).
constexpr size_t kMaxIdleLanes = 8;
}  // namespace

void DeadlineQueue::Entry::cancel() {
  if (!lane_) return;
  if (prev_)
    prev_->next_ = next_;
  else
    lane_->head = next_;
  if (next_)
    next_->prev_ = prev_;
  else
    lane_->tail = prev_;
  prev_ = next_ = nullptr;
  lane_ = nullptr;
  // The queue's timer may now fire for nothing; it re-arms for what is left.
}

DeadlineQueue::DeadlineQueue(EventLoop& loop)
    : loop_(loop), timer_(evtimer_new(loop.base(), onTimer, this)) {}

DeadlineQueue::~DeadlineQueue() {
  for (auto& lane : lanes_)
    while (lane->head) lane->head->cancel();
  event_free(timer_);
}

void DeadlineQueue::start(Entry& entry, std::chrono::milliseconds after) {
  entry.cancel();
  if (after < std::chrono::milliseconds(1)) after = std::chrono::milliseconds(1);
  Lane* lane = nullptr;
  for (auto& l : lanes_)
    if (l->duration == after) lane = l.get();
  if (!lane) {
    if (lanes_.size() >= kMaxIdleLanes) {
      for (size_t i = 0; i < lanes_.size();) {
        if (!lanes_[i]->head)
          lanes_.erase(lanes_.begin() + static_cast<std::ptrdiff_t>(i));
        else
          ++i;
      }
    }
    lanes_.push_back(std::make_unique<Lane>(Lane{after}));
    lane = lanes_.back().get();
  }
  entry.deadline_ = loop_.now() + after;  // the event's time: at most its length early
  entry.lane_ = lane;
  entry.prev_ = lane->tail;
  entry.next_ = nullptr;
  if (lane->tail)
    lane->tail->next_ = &entry;
  else
    lane->head = &entry;
  lane->tail = &entry;
  if (!armed_ || entry.deadline_ < armed_for_) arm();
}

void DeadlineQueue::arm() {
  bool any = false;
  Clock::time_point earliest;
  for (auto& lane : lanes_) {
    if (lane->head && (!any || lane->head->deadline_ < earliest)) {
      earliest = lane->head->deadline_;
      any = true;
    }
  }
  armed_ = any;
  if (!any) {
    evtimer_del(timer_);
    return;
  }
  armed_for_ = earliest;
  auto wait = std::chrono::ceil<std::chrono::microseconds>(earliest - loop_.readClock());
  if (wait.count() < 0) wait = std::chrono::microseconds(0);
  timeval tv;
  tv.tv_sec = static_cast<time_t>(wait.count() / 1000000);
  tv.tv_usec = static_cast<suseconds_t>(wait.count() % 1000000);
  evtimer_add(timer_, &tv);
}

void DeadlineQueue::onTimer(int, short, void* arg) noexcept {
  auto* self = static_cast<DeadlineQueue*>(arg);
  EventLoop::EventScope scope(self->loop_);
  self->expireDue();
}

void DeadlineQueue::expireDue() {
  armed_ = false;
  const Clock::time_point now = loop_.now();
  // A callback may start or cancel any entry, this lane's included: take heads one at a
  // time. An entry started now expires at least 1 ms later, so the walk ends.
  // A start() may also drop empty lanes: the index is checked on every step.
  for (size_t i = 0; i < lanes_.size(); ++i) {
    while (i < lanes_.size()) {
      Entry* e = lanes_[i]->head;
      if (!e || e->deadline_ > now) break;
      e->cancel();
      e->fn_(e->arg_);
    }
  }
  arm();
}

}  // namespace lb::common
