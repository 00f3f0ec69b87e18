// Building request targets from user input, and the admin URL form. Pure functions, any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lb::common {

// `text` as one path segment: RFC 3986 unreserved characters stay, every other byte is
// percent-encoded (so "a/b" or "..%2f" cannot become another path). The servers decode each
// segment after splitting the path (common::splitPath).
std::string escapePathSegment(std::string_view text);

// "http://IP:PORT" (an optional trailing "/"): the only URL form the proxies' admin API and
// lbcontrol's own API are reached at. Returns the "IP:PORT" part.
std::optional<std::string> parseAdminUrl(std::string_view url);

}  // namespace lb::common
