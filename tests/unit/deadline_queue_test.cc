// DeadlineQueue on a real libevent loop (no sockets): order across durations, cancel,
// restart, callbacks that change other entries, and many durations at once.
#include "common/deadline_queue.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/event_loop.h"

namespace lb::common {
namespace {

using std::chrono::milliseconds;

struct Fired {
  std::vector<std::string>* log;
  std::string name;
  static void note(void* arg) noexcept {
    auto* f = static_cast<Fired*>(arg);
    f->log->push_back(f->name);
  }
};

// Runs the loop until `done` holds, at most ~2 s of turns.
template <typename Pred>
void runUntil(EventLoop& loop, Pred done) {
  for (int i = 0; i < 2000 && !done(); ++i) event_base_loop(loop.base(), EVLOOP_ONCE);
}

// Simulated time: the loop reads a ManualClock, and the test fires what is due itself.
TEST(DeadlineQueue, OnAManualClockEntriesFireExactlyWhenDue) {
  ManualClock clock;
  EventLoop loop(&clock);
  DeadlineQueue q(loop);
  std::vector<std::string> log;
  Fired a{&log, "a"}, b{&log, "b"};
  DeadlineQueue::Entry ea(Fired::note, &a), eb(Fired::note, &b);
  q.start(ea, milliseconds(100));
  q.start(eb, milliseconds(250));
  clock.advance(milliseconds(99));
  q.expireDue();
  EXPECT_TRUE(log.empty());
  clock.advance(milliseconds(1));
  q.expireDue();
  EXPECT_EQ(log, std::vector<std::string>{"a"});
  q.start(ea, milliseconds(100));  // restarted at t=100: due at 200, before b
  clock.advance(milliseconds(150));
  q.expireDue();
  EXPECT_EQ(log, (std::vector<std::string>{"a", "a", "b"}));
  EXPECT_FALSE(ea.pending());
  EXPECT_FALSE(eb.pending());
}

TEST(DeadlineQueue, EarlierDeadlineFiresFirstWhateverTheStartOrder) {
  EventLoop loop;
  DeadlineQueue q(loop);
  std::vector<std::string> log;
  Fired a{&log, "slow"}, b{&log, "fast"};
  DeadlineQueue::Entry slow(Fired::note, &a), fast(Fired::note, &b);
  q.start(slow, milliseconds(300));
  q.start(fast, milliseconds(5));
  EXPECT_TRUE(slow.pending());
  runUntil(loop, [&] { return log.size() == 2; });
  EXPECT_EQ(log, (std::vector<std::string>{"fast", "slow"}));
  EXPECT_FALSE(slow.pending());
  EXPECT_FALSE(fast.pending());
}

TEST(DeadlineQueue, CancelledAndDestroyedEntriesNeverFire) {
  EventLoop loop;
  DeadlineQueue q(loop);
  std::vector<std::string> log;
  Fired a{&log, "cancelled"}, b{&log, "destroyed"}, c{&log, "kept"};
  DeadlineQueue::Entry cancelled(Fired::note, &a), kept(Fired::note, &c);
  auto destroyed = std::make_unique<DeadlineQueue::Entry>(Fired::note, &b);
  q.start(cancelled, milliseconds(5));
  q.start(*destroyed, milliseconds(5));
  q.start(kept, milliseconds(20));
  cancelled.cancel();
  destroyed.reset();
  runUntil(loop, [&] { return !log.empty(); });
  EXPECT_EQ(log, (std::vector<std::string>{"kept"}));
}

TEST(DeadlineQueue, RestartMovesTheDeadline) {
  EventLoop loop;
  DeadlineQueue q(loop);
  std::vector<std::string> log;
  Fired a{&log, "restarted"}, b{&log, "middle"};
  DeadlineQueue::Entry restarted(Fired::note, &a), middle(Fired::note, &b);
  q.start(restarted, milliseconds(5));
  q.start(middle, milliseconds(100));
  q.start(restarted, milliseconds(400));  // now later than `middle`
  runUntil(loop, [&] { return log.size() == 2; });
  EXPECT_EQ(log, (std::vector<std::string>{"middle", "restarted"}));
}

// A callback that restarts itself and cancels a sibling due in the same expiry pass.
struct Chain {
  DeadlineQueue* q;
  DeadlineQueue::Entry* self;
  DeadlineQueue::Entry* victim;
  int runs = 0;
  static void run(void* arg) noexcept {
    auto* c = static_cast<Chain*>(arg);
    if (++c->runs < 3) c->q->start(*c->self, milliseconds(2));
    c->victim->cancel();
  }
};

TEST(DeadlineQueue, CallbacksMayRestartThemselvesAndCancelOthers) {
  EventLoop loop;
  DeadlineQueue q(loop);
  std::vector<std::string> log;
  Fired v{&log, "victim"};
  DeadlineQueue::Entry victim(Fired::note, &v);
  Chain chain{&q, nullptr, &victim};
  DeadlineQueue::Entry self(Chain::run, &chain);
  chain.self = &self;
  q.start(self, milliseconds(5));
  q.start(victim, milliseconds(5));  // same lane, behind `self`: cancelled before it is due
  runUntil(loop, [&] { return chain.runs == 3; });
  EXPECT_EQ(chain.runs, 3);
  EXPECT_TRUE(log.empty());
  EXPECT_FALSE(self.pending());
}

TEST(DeadlineQueue, ManyDurationsAllFireOnceInOrder) {
  EventLoop loop;
  DeadlineQueue q(loop);
  std::vector<std::string> log;
  std::vector<std::unique_ptr<Fired>> names;
  std::vector<std::unique_ptr<DeadlineQueue::Entry>> entries;
  // 20 durations (more than the lanes kept idle), started longest first.
  for (int i = 20; i >= 1; --i) {
    names.push_back(std::make_unique<Fired>(Fired{&log, std::to_string(i)}));
    entries.push_back(std::make_unique<DeadlineQueue::Entry>(Fired::note, names.back().get()));
    q.start(*entries.back(), milliseconds(i * 15));
  }
  runUntil(loop, [&] { return log.size() == 20; });
  ASSERT_EQ(log.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(log[static_cast<size_t>(i)], std::to_string(i + 1));
}

}  // namespace
}  // namespace lb::common
