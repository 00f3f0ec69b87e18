// The typed configuration model shared by lbproxy, lbcontrol and lbctl.
// Plain structs: produced by the loader (config/loader.h), read-only afterwards.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lb::config {

using Duration = std::chrono::milliseconds;

// Where a value came from in the YAML file (1-based), for error messages.
struct Mark {
  int line = 0;
  int column = 0;
};

// A host's weight, wherever it is set (the file, the admin API, lbctl): one range.
inline constexpr uint32_t kMinWeight = 1;
inline constexpr uint32_t kMaxWeight = 10000;

struct HostConfig {
  std::string id;
  std::string address;  // "ip:port" or "[v6]:port"
  uint32_t weight = 1;
  std::map<std::string, std::string> labels;  // e.g. version: "1.4.2"; shown by the admin API
  Mark mark;
};

enum class BalancerKind { kRoundRobin, kLeastRequest, kRandom, kRingHash };

// What ring_hash hashes on: one request header or one cookie.
struct HashOn {
  std::string header;
  std::string cookie;
};

// Active health checks: GET `path` on every host each `interval`, from the main thread.
struct HealthCheckConfig {
  bool enabled = false;
  std::string path = "/";
  std::string host;  // Host header; "" = the host's address
  Duration interval{2000};
  Duration timeout{1000};
  uint32_t healthy_threshold = 2;    // consecutive passes to become healthy
  uint32_t unhealthy_threshold = 3;  // consecutive failures to become unhealthy
  // Inclusive status ranges that pass; default 200-399.
  std::vector<std::pair<int, int>> expected_statuses{{200, 399}};
};

// Passive outlier detection: consecutive failures seen by a worker eject the host for a time
// that grows with each ejection, capped; never more than max_ejection_percent of the cluster.
struct OutlierConfig {
  bool enabled = false;
  uint32_t consecutive_5xx = 5;
  uint32_t consecutive_connect_failures = 5;
  Duration base_ejection_time{30000};
  Duration max_ejection_time{300000};
  uint32_t max_ejection_percent = 50;
};

// TLS to the hosts of a cluster (docs/upstream-tls.md). TLS 1.2 and 1.3 only; the backend's
// certificate is verified unless `verify: false`.
struct UpstreamTlsConfig {
  bool enabled = false;
  bool verify = true;
  std::string ca_file;      // PEM bundle of trusted CAs; "" = the system's (ca-certificates)
  std::string server_name;  // SNI and the name verified; "" = no SNI, the host's IP is verified
  std::string min_version = "1.2";  // "1.2" or "1.3"
  std::string client_cert;          // PEM certificate (and chain) for mTLS; "" = none
  std::string client_key;
  bool session_reuse = true;  // resume with the last session of the same host and worker
  Mark mark;
  Mark ca_mark, client_mark;  // where the files were named, for reload errors
};

// How many retries a cluster lets run at once, per worker (Envoy's retry budget): at most
// `percent` of the requests in flight to it, but always `min_concurrency`. Retries beyond it
// are not made (the failed answer goes to the client) and are counted.
struct RetryBudget {
  uint32_t percent = 20;
  uint32_t min_concurrency = 3;
};

// Circuit breaking (HAProxy's maxconn and queue, Envoy's circuit breakers): what one host may
// be sent at once, and how many requests may wait for room. Totals for the whole proxy, split
// evenly over the workers (docs/limits.md). 0 = no limit.
struct ClusterLimits {
  uint32_t max_requests_per_host = 0;     // requests in flight to one host
  uint32_t max_connections_per_host = 0;  // open connections to one host, idle ones included
  uint32_t max_queued = 0;                // requests waiting for a host with room; 0 = 503 now
  Duration queue_timeout{1000};           // then 503
  bool any() const { return max_requests_per_host || max_connections_per_host; }
};

struct ClusterConfig {
  std::string name;
  BalancerKind balancer = BalancerKind::kRoundRobin;
  HashOn hash_on;
  Duration connect_timeout{1000};
  Duration idle_timeout{30000};  // pooled upstream connection idle; keep below the backend's
  uint32_t max_idle_per_host = 64;
  uint32_t max_attempts = 3;  // tries per request across hosts (connect failures, safe retries)
  HealthCheckConfig health_check;
  OutlierConfig outlier_detection;
  Duration slow_start{0};  // a host that becomes usable ramps its weight over this time; 0 = off
  UpstreamTlsConfig tls;
  // PROXY protocol version sent first on every connection to the hosts (1 or 2; 0 = none):
  // the client's address and port, and the address it connected to (docs/proxy-protocol.md).
  int send_proxy_protocol = 0;
  RetryBudget retry_budget;
  ClusterLimits limits;
  std::vector<HostConfig> hosts;
  Mark mark;
};

// One condition on a request header, cookie or query parameter (docs/routing.md).
struct ValueMatch {
  enum class Kind : uint8_t { kExact, kPrefix, kRegex, kPresent, kAbsent };
  std::string name;  // header names any case; cookie and query names exact
  Kind kind = Kind::kPresent;
  std::string value;  // kExact, kPrefix: the text; kRegex: an RE2 pattern matched whole
  Mark mark;
};

struct RouteMatch {
  std::string host;  // "" = any; "shop.example.com" exact; "*.example.com" wildcard
  std::string path_prefix = "/";
  // All must hold, besides host and path (empty: no condition).
  std::vector<std::string> methods;  // upper-case tokens; any of them
  std::vector<ValueMatch> headers;
  std::vector<ValueMatch> cookies;
  std::vector<ValueMatch> query;
  bool conditional() const {
    return !methods.empty() || !headers.empty() || !cookies.empty() || !query.empty();
  }
};

// Latency objectives of a route (spec §5.3), exported as metrics for alert rules and the
// rollout analysis. 0 = not set.
struct SloConfig {
  Duration mean{0};
  Duration p95{0};
  Duration p99{0};
  double max_error_rate = 0;  // fraction, e.g. 0.001
};

// When a request is sent again, to a host it has not tried, after its attempt failed in a way
// that the backend may not fail again (docs/retries.md). Connect and TLS failures are always
// retried (nothing reached the host); these conditions add the ones where the request did
// reach it. The cluster's max_attempts bounds the tries, its retry_budget the retries at once.
struct RetryConfig {
  bool on_5xx = false;               // any 5xx response
  bool on_gateway_error = false;     // 502, 503 or 504
  bool on_reset = false;             // the connection closed or reset before any response byte
  bool on_timeout = false;           // no response head within per_try_timeout
  std::vector<int> statuses;         // and these statuses (e.g. 429, 409)
  bool non_idempotent = false;       // also POST, PATCH, ...: only where the backend is idempotent
  Duration per_try_timeout{0};       // each attempt's wait for the head; 0 = the route's timeout
  uint64_t buffer_body = 64 * 1024;  // a request body up to this is kept to send again
  bool any() const {
    return on_5xx || on_gateway_error || on_reset || on_timeout || !statuses.empty();
  }
};

// A route's rate limit (docs/rate-limits.md): a token bucket per key, shared by every worker.
// `requests` per `period` sustained, `burst` at once; beyond it 429 (or, in dry run, counted
// only).
struct RateLimitConfig {
  enum class Key : uint8_t { kClientAddress, kHeader, kRoute };
  bool enabled = false;
  uint32_t requests = 0;  // sustained rate: this many per period
  Duration period{1000};  // "100/s", "600/m", "1000/h"
  uint32_t burst = 0;     // bucket size; 0 = one period's requests
  Key key = Key::kClientAddress;
  std::string header;    // kHeader: its name (requests without it count by client address)
  bool dry_run = false;  // count what would be limited; forward everything
  // `headers: always`: RateLimit and RateLimit-Policy on every response of the route (what is
  // left of the client's bucket), not only on its 429s (`limited`, the default).
  bool headers_always = false;
  uint32_t max_keys = 100000;  // keys tracked at once (memory: 16 bytes each, rounded up)
  bool operator==(const RateLimitConfig&) const = default;
};

// One place a route sends requests to (docs/routing.md, weighted destinations): a cluster, or
// the subset of its hosts whose labels hold every pair of `subset`; `weight` is its share
// among the route's destinations (0: none for now, as a canary before it starts).
struct DestinationConfig {
  std::string cluster;
  std::map<std::string, std::string> subset;  // empty: every host of the cluster
  uint32_t weight = 1;
  Mark mark;
  // "app" or "app{version=1.1.0,zone=a}": how logs, the admin API and metrics name it.
  std::string label() const {
    if (subset.empty()) return cluster;
    std::string out = cluster + "{";
    for (const auto& [k, v] : subset) out += (out.back() == '{' ? "" : ",") + k + "=" + v;
    return out + "}";
  }
  // The host is in this destination: its labels hold every pair of `subset`.
  bool holds(const HostConfig& host) const {
    for (const auto& [k, v] : subset) {
      auto it = host.labels.find(k);
      if (it == host.labels.end() || it->second != v) return false;
    }
    return true;
  }
};

inline constexpr uint32_t kMaxDestinationWeight = 10000;
inline constexpr size_t kMaxDestinations = 16;

// Sticky sessions (docs/routing.md): a cookie lbproxy sets naming the destination and, with
// `to: host`, the host that answered; a request that brings it goes back there while that
// destination has weight and that host is usable, and elsewhere (with a new cookie) when not.
struct StickyConfig {
  enum class To : uint8_t { kHost, kDestination };
  enum class SameSite : uint8_t { kLax, kStrict, kNone };
  bool enabled = false;
  std::string cookie;  // its name (an HTTP token)
  To to = To::kHost;
  Duration ttl{0};  // Max-Age, rounded up to seconds; 0 = a session cookie
  std::string path = "/";
  std::string domain;  // "" = the request's host only
  bool secure = false;
  bool http_only = true;
  SameSite same_site = SameSite::kLax;
  bool operator==(const StickyConfig&) const = default;
};

// Header fields a route sets (each replacing every field of its name) and removes, on the
// request to the backend or on the response to the client (docs/routing.md).
struct HeaderEditsConfig {
  std::vector<std::pair<std::string, std::string>> set;  // in file order
  std::vector<std::string> remove;
  bool empty() const { return set.empty() && remove.empty(); }
  bool operator==(const HeaderEditsConfig&) const = default;
};

// A route that answers with a redirect instead of forwarding (http -> https, a moved site).
// Unset parts keep the request's: its scheme, host, port (dropped when the scheme or host
// changes), path and query.
struct RedirectConfig {
  bool enabled = false;
  std::string scheme;  // "http" | "https"; "" = the request's
  std::string host;    // "" = the request's
  uint16_t port = 0;   // 0 = see above
  std::string path;    // replaces the whole path; "" = keep
  std::string prefix;  // replaces the route's path_prefix in the path (with has_prefix)
  bool has_prefix = false;
  bool strip_query = false;
  int status = 301;  // 301, 302, 303, 307 or 308
  bool operator==(const RedirectConfig&) const = default;
};

// A route that answers by itself (a maintenance page, a health or robots.txt answer).
struct FixedResponseConfig {
  bool enabled = false;
  int status = 200;
  std::string body;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  bool operator==(const FixedResponseConfig&) const = default;
};

inline constexpr size_t kMaxFixedBody = 64 * 1024;

// Response compression on a route (docs/compression.md): gzip and brotli, for the listed
// media types, when the client accepts one and the backend did not encode the body itself.
struct CompressionConfig {
  bool enabled = false;
  std::vector<std::string> encodings{"br", "gzip"};  // offered; the first wins a tie of q-values
  int gzip_level = 6;                                // 1-9, as nginx's gzip_comp_level
  int brotli_quality = 4;                            // 0-11
  int brotli_window = 18;                            // log2 of the window, 10-24: its memory
  uint64_t min_size = 1024;                          // a body of known smaller length goes as it is
  // Lower-case media types; "text/*" takes any subtype.
  std::vector<std::string> content_types{"text/html",
                                         "text/css",
                                         "text/plain",
                                         "text/javascript",
                                         "text/xml",
                                         "text/csv",
                                         "application/json",
                                         "application/javascript",
                                         "application/xml",
                                         "application/wasm",
                                         "application/problem+json",
                                         "image/svg+xml"};
  bool operator==(const CompressionConfig&) const = default;
};

struct RouteConfig {
  std::string name;  // stats and metrics label; default "<listener>:<host><path_prefix>"
  RouteMatch match;
  // `cluster: app` is one destination of weight 1. Set either way unless the route answers
  // itself (redirect, response); `cluster` is then the first destination's (the route's
  // metrics label), "" for a route that answers itself.
  std::string cluster;
  std::vector<DestinationConfig> destinations;
  Duration timeout{15000};  // upstream response headers deadline, and the longest body read stall
  // Upgrade protocols (RFC 9110 7.8) forwarded on this route, lower-case names ("websocket");
  // empty: upgrades are refused (the request goes upstream without them, as nginx's default).
  std::vector<std::string> upgrades{"websocket"};
  Duration tunnel_idle_timeout{3600000};  // an upgraded connection with no bytes either way
  RetryConfig retry;
  RateLimitConfig rate_limit;
  StickyConfig sticky;
  // Instead of a cluster: a redirect or a fixed response (exactly one of the four).
  RedirectConfig redirect;
  FixedResponseConfig response;
  HeaderEditsConfig request_headers, response_headers;
  bool json_errors = false;  // `errors: json`: lbproxy's own error responses as JSON
  CompressionConfig compression;
  SloConfig slo;
  Mark mark;
  Mark cluster_mark;
};

// One certificate of a TLS listener: chosen when the client's SNI name matches one of the
// certificate's own names (subjectAltName DNS entries, wildcards included).
struct TlsCertificateConfig {
  std::string cert;  // PEM file: the certificate, then its chain
  std::string key;   // PEM file: its private key
  Mark mark;
};

// TLS on a listener (docs/tls.md). TLS 1.2 and 1.3 only, modern ciphers, no renegotiation,
// no compression, no 0-RTT: those are not settings.
struct TlsConfig {
  bool enabled = false;
  std::vector<TlsCertificateConfig> certificates;  // [0] is the default (no or unknown SNI)
  std::string min_version = "1.2";                 // "1.2" or "1.3"
  Duration handshake_timeout{10000};
  bool session_tickets = true;
  // Ticket keys are derived from a per-process secret and the current period; a ticket stays
  // valid for two periods.
  Duration ticket_key_rotation{3600000};
  Mark mark;
};

// HTTP/2 from clients (docs/http2.md): offered by ALPN on TLS listeners; on a plain listener
// only with `cleartext` (h2c with prior knowledge, beside HTTP/1.1).
struct Http2Config {
  bool enabled = true;
  bool cleartext = false;
  uint32_t max_concurrent_streams = 100;
  uint32_t max_requests_per_connection = 10000;  // then GOAWAY; the client opens a new one
  Duration stream_idle_timeout{60000};           // a stream with no frames either way
  uint32_t initial_window = 65535;               // per stream, bytes; opened as upstream takes data
};

// The PROXY protocol (v1 and v2, docs/proxy-protocol.md) on a listener behind an L4 balancer:
// every connection must come from one of `trusted` and begin with a PROXY header, whose
// address becomes the client's.
struct ProxyProtocolConfig {
  bool enabled = false;
  std::vector<std::string> trusted;  // networks, "10.0.0.0/8", "192.0.2.7", "2001:db8::/32"
  Duration timeout{5000};            // for the header to arrive
  Mark mark;
};

struct ListenerConfig {
  std::string name;
  std::string listen;                       // "ip:port"
  Duration request_headers_timeout{10000};  // whole request head, not per byte
  Duration idle_timeout{60000};             // client keep-alive between requests
  uint32_t max_request_line = 8192;
  uint32_t max_header_bytes = 32768;
  uint32_t max_headers = 100;
  uint64_t max_body_bytes = 0;  // 0 = unlimited
  TlsConfig tls;
  Http2Config http2;
  ProxyProtocolConfig proxy_protocol;
  std::vector<RouteConfig> routes;
  Mark mark;
};

struct AccessLogConfig {
  bool enabled = true;
  std::string path = "/dev/stdout";
};

// Per-route and per-host traffic statistics (admin /v1/stats and /metrics). Off only to
// measure what they cost.
struct MetricsConfig {
  bool enabled = true;
};

// The admin REST API (docs/admin-api.md).
struct AdminConfig {
  bool enabled = true;
  std::string listen = "127.0.0.1:9901";
  std::string token_file;  // bearer token; required when listen is not a loopback address
  std::string state_file;  // runtime changes are saved here and restored at start; "" = off
  Mark mark;
};

struct ProxyConfig {
  std::string source;    // file name it was loaded from
  uint32_t workers = 0;  // 0 = one per core
  Duration shutdown_timeout{30000};
  std::vector<ListenerConfig> listeners;
  std::vector<ClusterConfig> clusters;
  AccessLogConfig access_log;
  AdminConfig admin;
  MetricsConfig metrics;

  const ClusterConfig* findCluster(const std::string& name) const {
    for (const auto& c : clusters)
      if (c.name == name) return &c;
    return nullptr;
  }
};

const char* balancerName(BalancerKind kind);

}  // namespace lb::config
