// The typed configuration of lbcontrol, the deploy control plane (config/README.md, "lbcontrol").
// Plain structs: produced by loadControlConfigFile (config/control_loader.h), read-only afterwards.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "config/model.h"

namespace lb::config {

// One lbproxy whose admin API lbcontrol drives.
struct ProxyEndpoint {
  std::string admin;       // "http://127.0.0.1:9901"
  std::string token_file;  // bearer token of that proxy's admin API; "" = none
  Mark mark;
};

enum class DriverKind { kProcess, kExec };

// How an instance of a version is started and stopped. Templates may use {version}, {instance},
// {port} and {host}.
struct DriverConfig {
  DriverKind kind = DriverKind::kProcess;
  // process: lbcontrol spawns `command` (run by /bin/sh) in its own process group on this
  // machine, logs to log_dir/<instance>.log, stops it with SIGTERM then SIGKILL after stop_grace,
  // and re-adopts it from its pid file after a restart.
  std::string command;
  std::string host = "127.0.0.1";  // address the instances listen on
  uint16_t port_min = 0;           // ports: "9101-9199"
  uint16_t port_max = 0;
  std::string log_dir;  // default <state_dir>/logs
  Duration stop_grace{10000};
  // exec: user commands (run by /bin/sh) for anything else: systemd, ssh, Docker. `start` must
  // print the instance's IP:PORT as its last line of output, or `address` prints it.
  std::string start;
  std::string stop;
  std::string address;
  Duration command_timeout{60000};
  Mark mark;
};

struct InstancesConfig {
  uint32_t count = 3;           // serving instances of the current release
  std::string id_prefix;        // instance ids are <id_prefix>-<n>; default: the cluster name
  std::string initial_version;  // deployed at first start when there is no release yet; "" = none
  DriverConfig driver;
  Mark mark;
};

struct HealthGateConfig {
  std::string path = "/";           // probed directly on the new instance before it is added
  uint32_t checks = 2;              // consecutive passes of that probe
  Duration min_healthy_time{5000};  // healthy on every proxy for this long before it takes traffic
  Duration deadline{60000};         // from start to passing the gate
};

struct AnalysisConfig {
  Duration interval{1000};         // one judgement per interval, over a window of that length
  uint64_t min_requests = 20;      // fewer requests in an interval: no judgement
  double max_error_rate = 0.01;    // (5xx + upstream errors) / requests of the new version
  Duration max_p99{0};             // 0 = the largest routes[].slo.p99 of the cluster's routes
  double max_p99_ratio = 2.0;      // ... and the new version's p99 above the old one's times this
  uint32_t failing_intervals = 3;  // consecutive failing intervals that fail the rollout
};

enum class ApprovalMode { kNone, kFirstStep, kEveryStep };

struct RolloutPolicy {
  uint32_t max_surge = 1;
  uint32_t max_unavailable = 0;
  HealthGateConfig health_gate;
  Duration drain_timeout{30000};
  Duration bake_time{10000};
  Duration watch_window{30000};
  AnalysisConfig analysis;
  bool auto_rollback = true;
  ApprovalMode approval = ApprovalMode::kNone;
  uint32_t history = 5;
};

struct ControlAuth {
  // Lines "NAME TOKEN": the name is what the audit log records. "" = no auth (loopback only).
  std::string tokens_file;
};

struct ControlConfig {
  std::string source;
  std::string listen = "127.0.0.1:9902";
  ControlAuth auth;
  std::string state_dir;  // journal, audit log, pid files, logs
  std::string cluster;    // the proxies' cluster the instances belong to
  std::string version_label = "version";
  std::vector<ProxyEndpoint> proxies;
  InstancesConfig instances;
  RolloutPolicy rollout;
};

const char* approvalModeName(ApprovalMode mode);

}  // namespace lb::config
