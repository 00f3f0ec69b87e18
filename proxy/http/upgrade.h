// Which of a request's Upgrade protocols (RFC 9110 7.8) a route lets through. Pure; any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lb::http {

// Keeps the elements of `offered` (an Upgrade field value, "websocket, foo/2") whose protocol
// name, without its version and ignoring case, is in `allowed` (lower-case names), in the order
// the client sent them; `out` is cleared first. False when none is left.
bool selectUpgrade(std::string_view offered, const std::vector<std::string>& allowed,
                   std::string* out);

}  // namespace lb::http
