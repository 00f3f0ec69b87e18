// Immutable route table of one listener: host (exact, "*.suffix" wildcard or any), path prefix
// and the route's conditions (method, headers, cookies, query parameters; docs/routing.md) ->
// route entry. First match wins. Built on the main thread, read by every worker (RE2 objects
// are safe to match from many threads at once).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.h"
#include "proxy/http/header_edits.h"

namespace lb::ratelimit {
class RateLimiter;
}

namespace lb::http {
struct RequestHead;
}

namespace re2 {
class RE2;
}

namespace lb::router {

// A compiled config::ValueMatch.
struct Condition {
  std::string name;
  config::ValueMatch::Kind kind = config::ValueMatch::Kind::kPresent;
  std::string value;
  std::shared_ptr<const re2::RE2> regex;  // kRegex
  // The field's value (nullopt: absent) meets the condition.
  bool holds(const std::string* value_or_null) const;
  bool holds(std::string_view value, bool present) const;
};

// Builds the conditions of a config list (regexes compiled; the loader has checked them).
std::vector<Condition> compileConditions(const std::vector<config::ValueMatch>& matches);

struct RouteEntry {
  std::string host;  // "" any, "example.com" exact, ".example.com" for "*.example.com"
  bool wildcard = false;
  std::string path_prefix;
  std::vector<std::string> methods;  // any of them; empty: any method
  std::vector<Condition> headers, cookies, query;
  bool conditional = false;  // any of the four above
  // Where requests go: one or more (weighted) destinations, picked per request by the worker.
  struct Destination {
    uint32_t cluster_index = 0;  // into the snapshot's cluster list
    int32_t subset_index = -1;   // into the snapshot's subsets; -1: every host of the cluster
    // Share among the route's destinations; 0 too when the subset has no host at all.
    uint32_t weight = 1;
    std::string label;          // DestinationConfig::label()
    uint64_t sticky_token = 0;  // names it in sticky-session cookies (a hash of the label)
  };
  std::vector<Destination> destinations;  // empty only for a route that answers itself
  // Instead of forwarding: a redirect or a fixed response (config::RouteConfig).
  config::RedirectConfig redirect;
  config::FixedResponseConfig response;
  http::HeaderEdits request_headers, response_headers;
  bool json_errors = false;
  config::CompressionConfig compression;  // response compression (docs/compression.md)
  std::chrono::milliseconds timeout{15000};
  std::vector<std::string> upgrades;  // lower-case protocol names this route tunnels
  std::chrono::milliseconds tunnel_idle_timeout{3600000};
  config::RetryConfig retry;  // what else is retried, beyond connect failures
  // The route's rate limit and its shared table (null: none); kept across snapshots while
  // the route's name and limit stay the same.
  config::RateLimitConfig rate_limit;
  std::shared_ptr<ratelimit::RateLimiter> rate_limiter;
  // Sticky sessions (sticky.enabled): what follows the cookie's value in Set-Cookie.
  config::StickyConfig sticky;
  std::string sticky_attributes;  // "; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax"
  uint32_t index = 0;             // position in the listener's route list
  std::string name;               // stats and metrics label
  uint32_t stats_index = 0;       // position among all routes of the snapshot (Snapshot::routes)
};

class RouteTable {
 public:
  void add(RouteEntry entry);
  // The first route for the request's authority, path, method, headers, cookies and query.
  const RouteEntry* match(const http::RequestHead& req) const;
  // By authority (any case, port allowed) and origin-form path alone: routes with conditions
  // never match.
  const RouteEntry* match(std::string_view host, std::string_view path) const;
  size_t size() const { return routes_.size(); }
  const std::vector<RouteEntry>& entries() const { return routes_; }

  // Lower-cased host name without the port ("[::1]:80" -> "[::1]").
  static std::string normalizeHost(std::string_view authority);

 private:
  const RouteEntry* find(std::string_view authority, std::string_view path,
                         const http::RequestHead* req) const;
  std::vector<RouteEntry> routes_;
};

}  // namespace lb::router
