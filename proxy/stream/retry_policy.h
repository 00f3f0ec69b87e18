// The pure decisions of a route's retry policy (config::RetryConfig, docs/retries.md): which
// answers are worth another host, which requests may be sent twice, and whether the cluster's
// retry budget has room. The Exchange asks them; they hold no state. Any thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string_view>

#include "config/model.h"

namespace lb::stream {

// RFC 9110 9.2.2: sending these twice has the effect of sending them once.
inline bool isIdempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" ||
         method == "PUT" || method == "DELETE";
}

// A final response the policy retries on another host.
inline bool retryOnStatus(const config::RetryConfig& p, int status) {
  if (p.on_5xx && status >= 500 && status <= 599) return true;
  if (p.on_gateway_error && (status == 502 || status == 503 || status == 504)) return true;
  return std::find(p.statuses.begin(), p.statuses.end(), status) != p.statuses.end();
}

// May this request go out again at all (before looking at what failed)?
inline bool policyCovers(const config::RetryConfig& p, std::string_view method) {
  return p.any() && (p.non_idempotent || isIdempotent(method));
}

// Room for one more retry: fewer retries in flight than `percent` of the requests in flight,
// or than `min_concurrency`, whichever is larger (Envoy's retry budget).
inline bool budgetAllows(const config::RetryBudget& b, uint32_t active_requests,
                         uint32_t active_retries) {
  const uint64_t share = uint64_t{active_requests} * b.percent / 100;
  return active_retries < std::max<uint64_t>(share, b.min_concurrency);
}

}  // namespace lb::stream
