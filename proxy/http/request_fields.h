// Reading one value out of a parsed request head: a cookie (RFC 6265 5.4 Cookie syntax, from
// every Cookie field, as HTTP/2 may split them) and a query parameter (`name=value` pairs
// split on `&`, compared as sent, without percent-decoding). Pure; any thread.
#pragma once

#include <optional>
#include <string_view>

#include "proxy/http/message.h"

namespace lb::http {

// The value of cookie `name` (exact name), or nullopt when no Cookie field carries it.
std::optional<std::string_view> findCookie(const RequestHead& req, std::string_view name);

// The value of query parameter `name` in an origin-form `path` ("/a?x=1&y"), or nullopt. A
// parameter without "=" has the empty value.
std::optional<std::string_view> findQueryParam(std::string_view path, std::string_view name);

}  // namespace lb::http
