// X-Request-Id: kept from the client when it is a sane token, else 128 random bits in hex.
// Pure functions; any thread.
#pragma once

#include <cstdint>
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

inline void appendHex(std::string* out, uint64_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  char digits[16];
  for (int i = 14; i >= 0; i -= 2, v >>= 8) {
    digits[i] = kHex[(v >> 4) & 15];
    digits[i + 1] = kHex[v & 15];
  }
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
  appendHex(out, a);
  appendHex(out, b);
}

}  // namespace lb::stream
