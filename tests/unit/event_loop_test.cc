// EventLoop on a real libevent base (no sockets): the clock (a ManualClock) read once per
// event scope, and the order of end-of-turn calls (deferToTurnEnd before deferCall, what they add
// included).
#include "common/event_loop.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/clock.h"

namespace lb::common {
namespace {

using namespace std::chrono_literals;

TEST(EventLoopNow, OneReadingPerScopeAndFreshOutsideOne) {
  ManualClock clock;
  EventLoop loop(&clock);
  auto outside1 = loop.now();
  clock.advance(2ms);
  EXPECT_EQ(loop.now() - outside1, 2ms) << "outside a scope every call reads the clock";
  std::chrono::steady_clock::time_point first;
  {
    EventLoop::EventScope scope(loop);
    first = loop.now();
    clock.advance(2ms);
    EXPECT_EQ(loop.now(), first) << "one event, one time";
    {
      EventLoop::EventScope nested(loop);  // a timer fired from inside an event
      EXPECT_EQ(loop.now(), first);
    }
    EXPECT_EQ(loop.now(), first);
    EXPECT_EQ(loop.readClock() - first, 2ms) << "readClock() always reads";
  }
  EXPECT_EQ(loop.now() - first, 2ms) << "the reading ends with the outermost scope";
  {
    EventLoop::EventScope scope(loop);
    EXPECT_EQ(loop.now() - first, 2ms) << "the next event reads again";
  }
}

TEST(EventLoopNow, TheSteadyClockWithoutAnInjectedOne) {
  EventLoop loop;
  const auto before = std::chrono::steady_clock::now();
  const auto reading = loop.now();
  const auto after = std::chrono::steady_clock::now();
  EXPECT_GE(reading, before);
  EXPECT_LE(reading, after);
}

struct Log {
  std::vector<std::string> lines;
  EventLoop* loop = nullptr;
};
void turnCall(void* arg) noexcept {
  auto* log = static_cast<Log*>(arg);
  log->lines.push_back("turn");
  // What an h2 session's flush does: write, which defers the stream's write.
  log->loop->deferCall([](void* a) noexcept { static_cast<Log*>(a)->lines.push_back("write"); },
                       log);
}
void eventCall(void* arg) noexcept { static_cast<Log*>(arg)->lines.push_back("event"); }

TEST(EventLoopCalls, TurnEndCallsRunBeforeTheWritesTheyQueueAndAfterEventCalls) {
  EventLoop loop;
  Log log;
  log.loop = &loop;
  loop.deferToTurnEnd(turnCall, &log);
  loop.deferCall(eventCall, &log);
  loop.runCallsNow();  // the end of an I/O event: only deferCall calls
  EXPECT_EQ(log.lines, (std::vector<std::string>{"event"}));
  event_base_loop(loop.base(), EVLOOP_ONCE | EVLOOP_NONBLOCK);  // the end of the turn
  EXPECT_EQ(log.lines, (std::vector<std::string>{"event", "turn", "write"}));
}

TEST(EventLoopCalls, CancelForgetsTurnEndCallsToo) {
  EventLoop loop;
  Log log;
  log.loop = &loop;
  loop.deferToTurnEnd(turnCall, &log);
  loop.deferCall(eventCall, &log);
  loop.cancelCall(turnCall, &log);
  loop.cancelCall(eventCall, &log);
  event_base_loop(loop.base(), EVLOOP_ONCE | EVLOOP_NONBLOCK);
  EXPECT_TRUE(log.lines.empty());
}

}  // namespace
}  // namespace lb::common
