// The typed configuration model shared by lbproxy, lbcontrol and lbctl.
// Plain structs: produced by the loader (config/loader.h), read-only afterwards.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lb::config {

using Duration = std::chrono::milliseconds;

// Where a value came from in the YAML file (1-based), for error messages.
struct Mark {
  int line = 0;
  int column = 0;
};

struct HostConfig {
  std::string id;
  std::string address;  // "ip:port" or "[v6]:port"
  uint32_t weight = 1;
  Mark mark;
};

enum class BalancerKind { kRoundRobin, kLeastRequest, kRandom, kRingHash };

// What ring_hash hashes on: one request header or one cookie.
struct HashOn {
  std::string header;
  std::string cookie;
};

struct ClusterConfig {
  std::string name;
  BalancerKind balancer = BalancerKind::kRoundRobin;
  HashOn hash_on;
  Duration connect_timeout{1000};
  Duration idle_timeout{30000};  // pooled upstream connection idle; keep below the backend's
  uint32_t max_idle_per_host = 64;
  uint32_t max_attempts = 3;  // tries per request across hosts (connect failures, safe retries)
  std::vector<HostConfig> hosts;
  Mark mark;
};

struct RouteMatch {
  std::string host;  // "" = any; "shop.example.com" exact; "*.example.com" wildcard
  std::string path_prefix = "/";
};

struct RouteConfig {
  RouteMatch match;
  std::string cluster;
  Duration timeout{15000};  // upstream response headers deadline, and the longest body read stall
  Mark mark;
  Mark cluster_mark;
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
  std::vector<RouteConfig> routes;
  Mark mark;
};

struct AccessLogConfig {
  bool enabled = true;
  std::string path = "/dev/stdout";
};

struct ProxyConfig {
  std::string source;    // file name it was loaded from
  uint32_t workers = 0;  // 0 = one per core
  Duration shutdown_timeout{30000};
  std::vector<ListenerConfig> listeners;
  std::vector<ClusterConfig> clusters;
  AccessLogConfig access_log;

  const ClusterConfig* findCluster(const std::string& name) const {
    for (const auto& c : clusters)
      if (c.name == name) return &c;
    return nullptr;
  }
};

const char* balancerName(BalancerKind kind);

}  // namespace lb::config
