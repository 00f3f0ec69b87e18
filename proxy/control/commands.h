// What the admin API asks of the controller and what it answers, as types: commands parsed and
// checked for form by admin/ (admin_commands.h), views of the runtime the controller fills,
// and typed errors. The controller knows nothing of HTTP or JSON; admin/ turns these into
// both. Main thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/loader.h"
#include "config/model.h"
#include "proxy/control/merged_reports.h"
#include "proxy/upstream/host.h"

namespace lb::control {

// ---- commands ---------------------------------------------------------------------------

struct AddHost {
  std::string cluster;
  config::HostConfig host;                    // id, address, weight, labels
  std::optional<upstream::AdminState> state;  // the initial admin state; default ready
};

struct SetHostState {
  std::string cluster;
  std::string id;
  upstream::AdminState state = upstream::AdminState::kDrain;
  std::optional<config::Duration> deadline;  // drain only: close what is left after it
};

struct SetHostWeight {
  std::string cluster;
  std::string id;
  uint32_t weight = 1;
};

struct RemoveHost {
  std::string cluster;
  std::string id;
  bool force = false;  // even in rotation or with requests in flight
};

struct SetRouteDestinations {
  std::string route;
  std::vector<config::DestinationConfig> destinations;  // checked for form; clusters not yet
};

// ---- errors -----------------------------------------------------------------------------

struct ControlError {
  enum class Kind {
    kNotFound,
    kConflict,
    kInvalidConfig,  // the file (or its token file) is invalid; the running config stays
    kReloadFailed,   // valid, but cannot be applied (a port cannot be bound)
    kInternal,
  };
  ControlError(Kind k, std::string m) : kind(k), message(std::move(m)) {}

  Kind kind;
  std::string message;
  std::vector<config::ConfigError> config_errors;  // kInvalidConfig of the file: every error
  std::optional<uint64_t> active_requests;         // kConflict of a remove: still in flight
};

// Either the value or the error.
template <typename T>
struct Result {
  std::optional<T> value;
  std::optional<ControlError> error;
  static Result ok(T v) { return {std::move(v), std::nullopt}; }
  static Result fail(ControlError e) { return {std::nullopt, std::move(e)}; }
};

template <typename T>
using Done = std::function<void(Result<T>)>;

// ---- views ------------------------------------------------------------------------------

struct HostView {
  std::string cluster;
  config::HostConfig config;  // id, address, labels as configured or added
  uint32_t weight = 1;        // current (the admin API may have changed it)
  upstream::AdminState admin = upstream::AdminState::kReady;
  upstream::Health health = upstream::Health::kHealthy;
  bool ejected = false;
  bool usable = false;
  uint64_t active_requests = 0;
  uint64_t idle_connections = 0;
  bool drained = false;  // not ready and nothing in flight
  // Known once the host has been checked or ejected.
  std::optional<std::string> last_check;
  uint32_t ejections = 0;
  int64_t last_ejection_ms = 0;
};

// A host operation's answer: the host as it is now, or nullopt when it is gone meanwhile.
struct HostAnswer {
  std::string cluster;
  std::string id;
  std::optional<HostView> host;
};

struct ClusterView {
  config::ClusterConfig config;  // settings (hosts are in `hosts`)
  std::vector<HostView> hosts;
  uint64_t queued = 0;  // requests waiting for a host with room, over all workers
};

struct RouteView {
  std::string name;
  std::string listener;
  struct Destination {
    config::DestinationConfig config;
    uint32_t hosts = 0;  // of the cluster (in its subset) now
  };
  std::vector<Destination> destinations;  // in effect
  bool runtime = false;                   // set through the admin API, not the file's
};

struct ReloadView {
  uint64_t config_version = 0;
  uint64_t snapshot_version = 0;
  size_t workers_switched = 0;
  std::vector<std::string> warnings;  // settings that take effect at the next restart
};

struct StatusView {
  std::string version;  // lbproxy's
  double uptime_seconds = 0;
  int64_t started_unix = 0;
  size_t workers = 0;
  std::string config_path;
  uint64_t config_version = 0;
  uint64_t snapshot_version = 0;
  uint64_t reloads_ok = 0;
  uint64_t reloads_failed = 0;
  struct Listener {
    std::string name;
    std::string address;
    uint16_t port = 0;
  };
  std::vector<Listener> listeners;
  std::string state_file;
};

struct StatsView {
  uint32_t window_s = 60;
  struct Route {
    std::string name;
    stats::Report report;
    std::optional<std::string> cluster;  // with its objectives, when the route is in the file
    config::SloConfig slo;
    bool sticky = false;       // the route has sticky sessions: their counters are shown
    bool compression = false;  // ...compression: its counters are shown
  };
  struct Host {
    std::string id;
    MergedReports::Host totals;
  };
  std::vector<Route> routes;
  std::vector<std::pair<std::string, std::vector<Host>>> clusters;  // by name, in order
};

}  // namespace lb::control
