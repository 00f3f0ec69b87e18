// Immutable route table of one listener: host (exact, "*.suffix" wildcard or any) and path
// prefix -> route entry. First match wins. Built on the main thread, read by every worker.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.h"

namespace lb::ratelimit {
class RateLimiter;
}

namespace lb::router {

struct RouteEntry {
  std::string host;  // "" any, "example.com" exact, ".example.com" for "*.example.com"
  bool wildcard = false;
  std::string path_prefix;
  uint32_t cluster_index = 0;  // into the snapshot's cluster list
  std::string cluster_name;
  std::chrono::milliseconds timeout{15000};
  std::vector<std::string> upgrades;  // lower-case protocol names this route tunnels
  std::chrono::milliseconds tunnel_idle_timeout{3600000};
  config::RetryConfig retry;  // what else is retried, beyond connect failures
  // The route's rate limit and its shared table (null: none); kept across snapshots while
  // the route's name and limit stay the same.
  config::RateLimitConfig rate_limit;
  std::shared_ptr<ratelimit::RateLimiter> rate_limiter;
  uint32_t index = 0;        // position in the listener's route list
  std::string name;          // stats and metrics label
  uint32_t stats_index = 0;  // position among all routes of the snapshot (Snapshot::routes)
};

class RouteTable {
 public:
  void add(RouteEntry entry);
  // `host` is the request authority (any case, port allowed); `path` is origin-form.
  const RouteEntry* match(std::string_view host, std::string_view path) const;
  size_t size() const { return routes_.size(); }
  const std::vector<RouteEntry>& entries() const { return routes_; }

  // Lower-cased host name without the port ("[::1]:80" -> "[::1]").
  static std::string normalizeHost(std::string_view authority);

 private:
  std::vector<RouteEntry> routes_;
};

}  // namespace lb::router
