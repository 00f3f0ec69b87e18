#include "proxy/router/redirect.h"

#include <string_view>

#include "proxy/http/message.h"
#include "proxy/router/route_table.h"

namespace lb::router {

bool redirectLocation(const config::RedirectConfig& rd, const std::string& path_prefix,
                      const http::RequestHead& req, bool https, std::string* out) {
  const std::string_view authority = req.authority;
  const std::string request_host = RouteTable::normalizeHost(authority);
  if (rd.host.empty() && request_host.empty()) return false;
  // The request's port, if it named one ("host:8080", "[::1]:8080").
  std::string_view request_port;
  const size_t close = authority.rfind(']');
  const size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && (close == std::string_view::npos || colon > close))
    request_port = authority.substr(colon + 1);

  // Both arms are string_views: a mixed `const char* : std::string` ternary would make a
  // temporary std::string that dies before the view is read.
  const std::string_view own_scheme = https ? "https" : "http";
  const std::string_view scheme = rd.scheme.empty() ? own_scheme : std::string_view(rd.scheme);
  const bool moved = (!rd.scheme.empty() && rd.scheme != own_scheme) ||
                     (!rd.host.empty() && rd.host != request_host);
  out->assign(scheme);
  out->append("://");
  out->append(rd.host.empty() ? request_host : rd.host);
  if (rd.port) {
    out->push_back(':');
    out->append(std::to_string(rd.port));
  } else if (!moved && !request_port.empty()) {
    out->push_back(':');
    out->append(request_port);
  }
  std::string_view path = req.path;
  std::string_view query;
  if (const size_t q = path.find('?'); q != std::string_view::npos) {
    query = path.substr(q);
    path = path.substr(0, q);
  }
  if (!rd.path.empty()) {
    out->append(rd.path);
  } else if (rd.has_prefix && path.starts_with(path_prefix)) {
    std::string_view rest = path.substr(path_prefix.size());
    // "/old" -> "/new" keeps "/old/x" as "/new/x"; a prefix of "/" adds no double slash.
    if (rd.prefix.ends_with('/') && rest.starts_with('/')) rest.remove_prefix(1);
    out->append(rd.prefix);
    out->append(rest);
  } else {
    out->append(path.empty() ? "/" : path);
  }
  if (!rd.strip_query) out->append(query);
  return true;
}

}  // namespace lb::router
