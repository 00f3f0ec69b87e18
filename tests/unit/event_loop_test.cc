// EventLoop on a real libevent base (no sockets): the clock read once per event scope, and
// the order of end-of-turn calls (deferToTurnEnd before deferCall, what they add included).
#include "common/event_loop.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace lb::common {
namespace {

using namespace std::chrono_literals;

TEST(EventLoopNow, OneReadingPerScopeAndFreshOutsideOne) {
  EventLoop loop;
  auto outside1 = loop.now();
  std::this_thread::sleep_for(2ms);
  EXPECT_GE(loop.now() - outside1, 2ms) << "outside a scope every call reads the clock";
  std::chrono::steady_clock::time_point first;
  {
    EventLoop::EventScope scope(loop);
    first = loop.now();
    std::this_thread::sleep_for(2ms);
    EXPECT_EQ(loop.now(), first) << "one event, one time";
    {
      EventLoop::EventScope nested(loop);  // a timer fired from inside an event
      EXPECT_EQ(loop.now(), first);
    }
    EXPECT_EQ(loop.now(), first);
  }
  EXPECT_GE(loop.now() - first, 2ms) << "the reading ends with the outermost scope";
  {
    EventLoop::EventScope scope(loop);
    EXPECT_GE(loop.now() - first, 2ms) << "the next event reads again";
  }
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
