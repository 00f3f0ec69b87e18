// The value of a sticky-session cookie (docs/routing.md, sticky sessions): it names one of the
// route's destinations and, with `to: host`, a host, each by a 64-bit token hashed from its
// name (DestinationConfig::label(); cluster and host id). The same on every worker, every
// lbproxy and across restarts; no backend address reaches a browser. Pure; any thread.
//
//   to: destination   "<16 hex digits>"
//   to: host          "<16 hex digits>.<16 hex digits>"
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lb::stream {

struct StickyTarget {
  uint64_t destination = 0;
  bool has_host = false;
  uint64_t host = 0;
  bool operator==(const StickyTarget&) const = default;
};

// What a cookie value lbproxy set names; nullopt for any other value (a forged or stale
// one is ignored: the request is placed afresh and gets a new cookie).
std::optional<StickyTarget> parseStickyValue(std::string_view value);

// Sets `out` to a Set-Cookie field value: name=value and the route's `attributes`
// ("; Path=/; HttpOnly" ...).
void formatStickyCookie(std::string_view name, const StickyTarget& target,
                        std::string_view attributes, std::string* out);

}  // namespace lb::stream
