// Splitting a fuzzer's input into the pieces a peer might send: the parsers must give the same
// answer however the bytes arrive. Test code for the fuzz targets only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lb::fuzz {

// The first byte seeds the cut points; the rest is the message. Pieces of 1..16 bytes, or the
// whole rest when the seed is 0.
inline std::vector<size_t> pieceSizes(uint8_t seed, size_t len) {
  std::vector<size_t> sizes;
  if (seed == 0) {
    sizes.push_back(len);
    return sizes;
  }
  uint32_t state = seed;
  for (size_t at = 0; at < len;) {
    state = state * 1103515245u + 12345u;
    size_t n = 1 + (state >> 16) % 16;
    if (n > len - at) n = len - at;
    sizes.push_back(n);
    at += n;
  }
  return sizes;
}

}  // namespace lb::fuzz
