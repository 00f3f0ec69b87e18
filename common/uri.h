// Building request targets from user input. Pure functions, any thread.
#pragma once

#include <string>
#include <string_view>

namespace lb::common {

// `text` as one path segment: RFC 3986 unreserved characters stay, every other byte is
// percent-encoded (so "a/b" or "..%2f" cannot become another path). The servers decode each
// segment after splitting the path (common::splitPath).
std::string escapePathSegment(std::string_view text);

}  // namespace lb::common
