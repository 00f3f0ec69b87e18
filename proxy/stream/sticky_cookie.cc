#include "proxy/stream/sticky_cookie.h"

namespace lb::stream {
namespace {

constexpr size_t kTokenDigits = 16;

bool parseToken(std::string_view hex, uint64_t* out) {
  if (hex.size() != kTokenDigits) return false;
  uint64_t v = 0;
  for (char c : hex) {
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else
      return false;
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  *out = v;
  return true;
}

void appendToken(uint64_t v, std::string* out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (int shift = 60; shift >= 0; shift -= 4) out->push_back(kDigits[(v >> shift) & 0xf]);
}

}  // namespace

std::optional<StickyTarget> parseStickyValue(std::string_view value) {
  StickyTarget t;
  if (value.size() == kTokenDigits) {
    if (!parseToken(value, &t.destination)) return std::nullopt;
    return t;
  }
  if (value.size() != 2 * kTokenDigits + 1 || value[kTokenDigits] != '.') return std::nullopt;
  if (!parseToken(value.substr(0, kTokenDigits), &t.destination) ||
      !parseToken(value.substr(kTokenDigits + 1), &t.host))
    return std::nullopt;
  t.has_host = true;
  return t;
}

void formatStickyCookie(std::string_view name, const StickyTarget& target,
                        std::string_view attributes, std::string* out) {
  out->clear();
  out->reserve(name.size() + 2 + 2 * kTokenDigits + attributes.size());
  out->append(name);
  out->push_back('=');
  appendToken(target.destination, out);
  if (target.has_host) {
    out->push_back('.');
    appendToken(target.host, out);
  }
  out->append(attributes);
}

}  // namespace lb::stream
