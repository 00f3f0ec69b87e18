// The first contiguous piece of an evbuffer, for parsers that take (data, len) without
// copying. Owner thread of the buffer.
#pragma once

#include <event2/buffer.h>

#include <cstddef>

namespace lb::stream {

inline bool firstChunk(evbuffer* buf, const char** data, size_t* len) {
  evbuffer_iovec v;
  if (evbuffer_peek(buf, -1, nullptr, &v, 1) < 1 || v.iov_len == 0) return false;
  *data = static_cast<const char*>(v.iov_base);
  *len = v.iov_len;
  return true;
}

}  // namespace lb::stream
