// ByteRing: bytes come out in the order they went in, across wraps and growth; the pieces
// cover exactly what is queued; the block goes back to the loop when empty.
#include "common/byte_ring.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <random>
#include <string>

#include "common/event_loop.h"

namespace lb::common {
namespace {

std::string contents(const ByteRing& ring) {
  iovec pieces[2];
  int n = ring.front(pieces);
  std::string out;
  for (int i = 0; i < n; ++i) out.append(static_cast<char*>(pieces[i].iov_base), pieces[i].iov_len);
  return out;
}

TEST(ByteRing, EmptyHasNoPiecesAndNoBlock) {
  EventLoop loop;
  ByteRing ring(loop);
  iovec pieces[2];
  EXPECT_EQ(ring.front(pieces), 0);
  EXPECT_EQ(ring.capacity(), 0u);
  ring.append("", 0);
  EXPECT_EQ(ring.capacity(), 0u);
}

TEST(ByteRing, TakesALoopBlockAndGivesItBackWhenEmpty) {
  EventLoop loop;
  ByteRing ring(loop);
  ring.append("hello", 5);
  EXPECT_EQ(ring.capacity(), EventLoop::kBlockSize);
  EXPECT_EQ(contents(ring), "hello");
  ring.releaseBlock();  // not empty: kept
  EXPECT_EQ(ring.capacity(), EventLoop::kBlockSize);
  ring.consume(5);
  EXPECT_TRUE(ring.empty());
  ring.releaseBlock();
  EXPECT_EQ(ring.capacity(), 0u);
  // The loop kept it as a spare: the next ring gets the same block.
  char* spare = loop.takeBlock();
  ByteRing other(loop);
  loop.giveBlock(spare, EventLoop::kBlockSize);
  other.append("x", 1);
  iovec pieces[2];
  ASSERT_EQ(other.front(pieces), 1);
  EXPECT_EQ(pieces[0].iov_base, spare);
}

TEST(ByteRing, WrapsIntoTwoPiecesInOrder) {
  EventLoop loop;
  ByteRing ring(loop);
  const size_t cap = EventLoop::kBlockSize;
  std::string a(cap - 10, 'a');
  ring.append(a.data(), a.size());
  ring.consume(cap - 20);                  // 10 bytes left near the end
  std::string b = "0123456789ABCDEFGHIJ";  // 10 fit before the end, 10 wrap
  ring.append(b.data(), b.size());
  EXPECT_EQ(ring.capacity(), cap);
  iovec pieces[2];
  ASSERT_EQ(ring.front(pieces), 2);
  EXPECT_EQ(pieces[0].iov_len, 20u);
  EXPECT_EQ(pieces[1].iov_len, 10u);
  EXPECT_EQ(contents(ring), std::string(10, 'a') + b);
  ring.consume(25);
  EXPECT_EQ(contents(ring), "FGHIJ");
  ASSERT_EQ(ring.front(pieces), 1);  // the rest is at the block's start
}

TEST(ByteRing, GrowsByDoublingAndLaysTheBytesOutFromTheStart) {
  EventLoop loop;
  ByteRing ring(loop);
  const size_t cap = EventLoop::kBlockSize;
  std::string a(cap - 4, 'a');
  ring.append(a.data(), a.size());
  ring.consume(cap - 8);
  std::string b(8, 'b');  // wraps: 4 at the end, 4 at the start
  ring.append(b.data(), b.size());
  std::string c(3 * cap, 'c');  // does not fit: 4 * cap holds all
  ring.append(c.data(), c.size());
  EXPECT_EQ(ring.capacity(), 4 * cap);
  iovec pieces[2];
  ASSERT_EQ(ring.front(pieces), 1);
  EXPECT_EQ(contents(ring), std::string(4, 'a') + b + c);
  ring.clear();  // a grown block is freed, not kept (ASan would see a leak)
  EXPECT_TRUE(ring.empty());
  EXPECT_EQ(ring.capacity(), 0u);
}

// Random appends and consumes against a std::deque: the same bytes in the same order.
TEST(ByteRing, MatchesAQueueUnderRandomUse) {
  EventLoop loop;
  ByteRing ring(loop);
  std::deque<char> model;
  std::mt19937 rng(12345);
  uint8_t next = 0;
  for (int step = 0; step < 20000; ++step) {
    if (rng() % 2) {
      size_t len = rng() % 3 == 0 ? rng() % 40000 : rng() % 3000;
      std::string data(len, '\0');
      for (char& ch : data) ch = static_cast<char>(next++);
      ring.append(data.data(), data.size());
      model.insert(model.end(), data.begin(), data.end());
    } else {
      size_t n = model.empty() ? 0 : rng() % (model.size() + 1);
      ring.consume(n);
      model.erase(model.begin(), model.begin() + static_cast<long>(n));
      if (rng() % 8 == 0) ring.releaseBlock();
    }
    ASSERT_EQ(ring.size(), model.size());
    if (step % 97 == 0) {
      ASSERT_EQ(contents(ring), std::string(model.begin(), model.end()));
    }
  }
  EXPECT_EQ(contents(ring), std::string(model.begin(), model.end()));
}

}  // namespace
}  // namespace lb::common
