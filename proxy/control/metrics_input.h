// What the Prometheus exposition is rendered from (proxy/admin/prometheus_exporter.h): the
// controller gathers it (the workers' reports and its own counters) and knows nothing of the
// text format. Built and read on the main thread.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "config/model.h"
#include "proxy/control/merged_reports.h"
#include "proxy/health/health_checker.h"
#include "proxy/snapshot/snapshot.h"
#include "proxy/worker/worker.h"

namespace lb::control {

struct HostExtra {
  std::array<uint64_t, health::kCheckResults> check_results{};
  uint32_t ejections = 0;
};

struct MetricsInput {
  const snapshot::Snapshot* snapshot = nullptr;
  const config::ProxyConfig* config = nullptr;  // effective (file + runtime changes)
  MergedReports reports;                        // every worker's, merged
  std::map<std::string, HostExtra> host_extra;  // by "cluster/id"
  uint64_t config_version = 0;
  uint64_t reloads_ok = 0;
  uint64_t reloads_failed = 0;
  int64_t last_reload_unix = 0;
  int64_t started_unix = 0;
};

}  // namespace lb::control
