// X-Request-Id: kept from the client when it is a sane token, else 128 random bits in hex.
// Pure functions; any thread.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>

#include "proxy/http/message.h"

namespace lb::stream {

inline bool validRequestId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (unsigned char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

// "000102...ff": the two digits of every byte, so a 64-bit value takes 8 lookups, not 16.
inline constexpr std::array<char, 512> kHexPairs = [] {
  constexpr char kHex[] = "0123456789abcdef";
  std::array<char, 512> table{};
  for (int i = 0; i < 256; ++i) {
    table[2 * i] = kHex[i >> 4];
    table[2 * i + 1] = kHex[i & 15];
  }
  return table;
}();

// Writes the 16 hex digits of `v`, most significant first.
inline void writeHex(char* digits, uint64_t v) {
  for (int i = 14; i >= 0; i -= 2, v >>= 8) std::memcpy(digits + i, &kHexPairs[(v & 255) * 2], 2);
}

inline void appendHex(std::string* out, uint64_t v) {
  char digits[16];
  writeHex(digits, v);
  out->append(digits, sizeof(digits));
}

// Sets *out to the request's id: the client's X-Request-Id if valid, else `a`,`b` in hex.
inline void chooseRequestId(const http::RequestHead& req, uint64_t a, uint64_t b,
                            std::string* out) {
  out->clear();
  const std::string* id = req.find("x-request-id");
  if (id && validRequestId(*id)) {
    *out = *id;
    return;
  }
  char digits[32];  // one assignment, not two appends: this runs for every request
  writeHex(digits, a);
  writeHex(digits + 16, b);
  out->assign(digits, sizeof(digits));
}

}  // namespace lb::stream
