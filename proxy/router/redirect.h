// The Location of a route's redirect (config::RedirectConfig): the request's URL with the
// parts the route replaces. Pure; any thread.
#pragma once

#include <string>

#include "config/model.h"

namespace lb::http {
struct RequestHead;
}

namespace lb::router {

// Sets *out to the absolute URL to redirect `req` to; `path_prefix` is the route's (what
// `prefix` replaces) and `https` whether the request came over TLS. False when the request
// names no host and the route sets none (an HTTP/1.0 request without Host).
bool redirectLocation(const config::RedirectConfig& rd, const std::string& path_prefix,
                      const http::RequestHead& req, bool https, std::string* out);

}  // namespace lb::router
