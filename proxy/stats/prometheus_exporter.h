// Renders the Prometheus text exposition at scrape time from the workers' merged reports and
// the main thread's state. prometheus-cpp provides the registry and the serialiser; a fresh
// registry per scrape keeps the request path free of its atomics. Main thread.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "config/model.h"
#include "proxy/core/worker.h"
#include "proxy/health/health_checker.h"
#include "proxy/snapshot/snapshot.h"

namespace lb::stats {

struct HostExtra {
  std::array<uint64_t, health::kCheckResults> check_results{};
  uint32_t ejections = 0;
};

struct MetricsInput {
  const snapshot::Snapshot* snapshot = nullptr;
  const config::ProxyConfig* config = nullptr;  // effective (file + runtime changes)
  const std::vector<core::WorkerReport>* reports = nullptr;
  std::map<std::string, HostExtra> host_extra;  // by "cluster/id"
  uint64_t config_version = 0;
  uint64_t reloads_ok = 0;
  uint64_t reloads_failed = 0;
  int64_t last_reload_unix = 0;
  int64_t started_unix = 0;
};

std::string renderPrometheus(const MetricsInput& in);

}  // namespace lb::stats
