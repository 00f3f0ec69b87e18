#include "common/byte_ring.h"

#include <cstring>

#include "common/event_loop.h"

namespace lb::common {

ByteRing::~ByteRing() {
  if (buf_) loop_.giveBlock(buf_, cap_);
}

void ByteRing::reserve(size_t need) {
  if (need <= cap_) return;
  size_t cap = cap_ ? cap_ * 2 : EventLoop::kBlockSize;
  while (cap < need) cap *= 2;
  char* bigger = cap == EventLoop::kBlockSize ? loop_.takeBlock() : new char[cap];
  if (buf_) {
    iovec pieces[2];
    int n = front(pieces);
    size_t at = 0;
    for (int i = 0; i < n; ++i) {
      std::memcpy(bigger + at, pieces[i].iov_base, pieces[i].iov_len);
      at += pieces[i].iov_len;
    }
    loop_.giveBlock(buf_, cap_);
  }
  buf_ = bigger;
  cap_ = cap;
  head_ = 0;
}

void ByteRing::append(const void* data, size_t len) {
  if (len == 0) return;
  reserve(size_ + len);
  const char* from = static_cast<const char*>(data);
  size_t tail = head_ + size_;
  if (tail >= cap_) tail -= cap_;
  size_t first = cap_ - tail < len ? cap_ - tail : len;  // up to the block's end
  std::memcpy(buf_ + tail, from, first);
  if (first < len) std::memcpy(buf_, from + first, len - first);  // wraps to the start
  size_ += len;
}

int ByteRing::front(iovec pieces[2]) const {
  if (size_ == 0) return 0;
  size_t first = cap_ - head_ < size_ ? cap_ - head_ : size_;
  pieces[0].iov_base = buf_ + head_;
  pieces[0].iov_len = first;
  if (first == size_) return 1;
  pieces[1].iov_base = buf_;
  pieces[1].iov_len = size_ - first;
  return 2;
}

void ByteRing::consume(size_t n) {
  if (n >= size_) {
    head_ = size_ = 0;  // empty: the next bytes start at the block's start, in one piece
    return;
  }
  head_ += n;
  if (head_ >= cap_) head_ -= cap_;
  size_ -= n;
}

void ByteRing::releaseBlock() {
  if (!buf_ || size_ != 0) return;
  loop_.giveBlock(buf_, cap_);
  buf_ = nullptr;
  cap_ = head_ = 0;
}

}  // namespace lb::common
