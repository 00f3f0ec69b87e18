// A byte queue in one ring-shaped block, for a stream's output: appends copy in, the front is
// seen as at most two contiguous pieces (one writev), and written bytes free their room at
// once. Why not an evbuffer: an evbuffer allocates and frees a chain per append that does not
// fit the last one (two per proxied request), where this reuses the loop's spare blocks.
//
// Memory: no block while empty. The first comes from the loop's spares (EventLoop::kBlockSize);
// an append that does not fit doubles the block, laying the bytes out from its start (so a
// piece handed out by front() only grows until consumed). releaseBlock() gives the block back
// once empty. Owner: the loop's thread.
#pragma once

#include <sys/uio.h>

#include <cstddef>

namespace lb::common {

class EventLoop;

class ByteRing {
 public:
  explicit ByteRing(EventLoop& loop) : loop_(loop) {}
  ~ByteRing();
  ByteRing(const ByteRing&) = delete;
  ByteRing& operator=(const ByteRing&) = delete;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return cap_; }

  void append(const void* data, size_t len);
  // The queued bytes in order, as one or two pieces; returns how many (0 when empty).
  int front(iovec pieces[2]) const;
  // Drops n bytes (at most size()) from the front.
  void consume(size_t n);
  // Gives the block back to the loop if nothing is queued.
  void releaseBlock();
  // Drops everything queued and gives the block back.
  void clear() {
    consume(size_);
    releaseBlock();
  }

 private:
  void reserve(size_t need);

  EventLoop& loop_;
  char* buf_ = nullptr;
  size_t cap_ = 0;
  size_t head_ = 0;  // offset of the first queued byte
  size_t size_ = 0;
};

}  // namespace lb::common
