// The workers' reports merged once, in one place: per host, per route, per listener and in all.
// The admin answers (hosts, stats) and the Prometheus exposition read the merged numbers and
// never loop over workers themselves. Built and read on the main thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "proxy/stats/listener_counters.h"
#include "proxy/stats/traffic_stats.h"
#include "proxy/worker/worker.h"

namespace lb::control {

struct MergedReports {
  struct Host {
    stats::Report report;
    uint64_t active_requests = 0;
    uint64_t idle_connections = 0;
  };

  std::map<const upstream::HostState*, Host> hosts;  // by shared host state
  std::map<std::string, stats::Report> routes;       // by route name
  std::map<std::string, stats::ListenerCounters> listeners;
  std::map<std::string, uint64_t> cluster_queued;  // requests waiting for room (limits)
  uint64_t downstream_connections = 0;
  size_t workers = 0;  // how many reports were merged

  // Empty numbers for a host or route no worker reported (new, or without traffic).
  const Host& host(const upstream::HostState* h) const;
  const stats::Report& route(const std::string& name) const;
  const stats::ListenerCounters& listener(const std::string& name) const;
};

MergedReports mergeReports(const std::vector<worker::WorkerReport>& reports);

}  // namespace lb::control
