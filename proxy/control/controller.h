// The main thread's owner of everything that changes at runtime: the loaded file, the runtime
// overlay (admin API changes), host states, the workers' snapshots, listener sockets, active
// health checks, outlier ejections and the state file. The admin API and signal handlers
// call it; it talks to workers only by posting to their loops and answers asynchronously
// once every worker has acted. Owner: the main thread (every method).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/event_loop.h"
#include "config/model.h"
#include "proxy/control/commands.h"
#include "proxy/control/host_policy.h"
#include "proxy/control/listener_set.h"
#include "proxy/control/metrics_input.h"
#include "proxy/control/runtime_overlay.h"
#include "proxy/health/health_checker.h"
#include "proxy/snapshot/snapshot.h"
#include "proxy/worker/worker.h"

namespace lb::log {
class AccessLogWriter;
}

namespace lb::control {

class Controller {
 public:
  Controller(common::EventLoop& loop, std::string config_path, log::AccessLogWriter* access_log);
  ~Controller();

  // Opens listeners, restores the state file, starts workers and health checks.
  bool start(const config::ProxyConfig& config, uint32_t workers, std::string* error);
  // Stops health checks and tells workers to drain; `done` runs on the main thread once
  // every worker has exited.
  void shutdown(std::function<void()> done);
  bool stopping() const { return stopping_; }

  const config::ProxyConfig& fileConfig() const { return file_; }
  // The bearer token the admin API asks for; "" = none. Changes only with a successful reload.
  const std::string& adminToken() const { return admin_token_; }
  const std::vector<std::unique_ptr<worker::Worker>>& workers() const { return workers_; }

  // Admin operations on typed commands (commands.h). Each answers through `done`, on the main
  // thread, once every worker has acted; the views are copies.
  void reload(Done<ReloadView> done);
  StatusView status() const;
  void listClusters(std::function<void(std::vector<ClusterView>)> done);
  void getCluster(const std::string& cluster, Done<ClusterView> done);
  void addHost(AddHost cmd, Done<HostAnswer> done);
  void removeHost(RemoveHost cmd, Done<HostAnswer> done);
  void setState(SetHostState cmd, Done<HostAnswer> done);
  void setWeight(SetHostWeight cmd, Done<HostAnswer> done);
  void stats(uint32_t window_s, std::function<void(StatsView)> done);
  // Routes and their weighted destinations (controller_routes.cc). Setting them takes effect
  // without a reload and is kept in the state file; a reset goes back to the file's.
  std::vector<RouteView> listRoutes() const;
  void setRouteDestinations(SetRouteDestinations cmd, Done<RouteView> done);
  void resetRouteDestinations(const std::string& route, Done<RouteView> done);
  // Prometheus text exposition.
  void metrics(std::function<void(const MetricsInput&)> done);

 private:
  // Main-thread bookkeeping per host (by cluster/id).
  struct HostRuntime {
    CheckStreak streak;  // active checks (host_policy.h)
    std::array<uint64_t, health::kCheckResults> check_results{};
    std::string last_check;
    uint32_t ejections = 0;
    bool ejected = false;
    int64_t ejected_until_ms = 0;
    int64_t last_ejection_ms = 0;  // length of the latest ejection
    int64_t cap_logged_ms = 0;     // last "would pass max_ejection_percent" line (one a minute)
    std::unique_ptr<common::Timer> eject_timer;
    std::unique_ptr<common::Timer> drain_timer;
  };

  // Builds the effective config and a snapshot from it and sends it to every worker;
  // `done` runs when all have switched. Returns false and sets *error when it cannot.
  // `reread_certificates`: a config reload reads TLS certificate files again; a runtime change
  // (hosts, weights) keeps the listeners' TLS contexts, so it cannot fail on a file being renewed.
  bool publish(const config::ProxyConfig& file, std::function<void()> done, std::string* error,
               bool reread_certificates = false);
  void forEachWorker(const std::function<void(worker::Worker&, std::function<void()>)>& fn,
                     std::function<void()> all_done);
  // Every worker's report for `window_s`, merged (merged_reports.h); `done` on this thread.
  void collectReports(uint32_t window_s, std::function<void(MergedReports)> done);
  const config::ClusterConfig* effectiveCluster(const std::string& name) const;
  const config::HostConfig* effectiveHost(const std::string& cluster, const std::string& id) const;
  std::shared_ptr<upstream::HostState> hostState(const std::string& cluster,
                                                 const std::string& id) const;
  HostRuntime& runtime(const upstream::HostState& host);
  // Not found (the cluster or the host), or nullopt when both exist.
  std::optional<ControlError> findHost(const std::string& cluster, const std::string& id) const;
  HostView hostView(const config::HostConfig& h, const upstream::HostState& state,
                    const MergedReports& reports) const;
  ClusterView clusterView(const config::ClusterConfig& c, const MergedReports& reports) const;
  void answerHost(const std::string& cluster, const std::string& id, Done<HostAnswer> done);
  void setAdminState(upstream::HostState& host, upstream::AdminState state);
  // Admin states set through the API, onto the snapshot's (possibly new) host states.
  void applyAdminOverrides(const snapshot::Snapshot& snap);
  void markUsabilityChange(upstream::HostState& host, bool was_usable);
  void onCheckResult(const std::shared_ptr<upstream::HostState>& host, health::CheckResult r);
  void onOutlier(const std::shared_ptr<upstream::HostState>& host, stream::OutlierKind kind);
  void saveState();
  std::optional<RouteView> routeView(const std::string& route) const;

  common::EventLoop& loop_;
  std::string config_path_;
  log::AccessLogWriter* access_log_;
  config::ProxyConfig file_;       // as loaded from the file
  config::ProxyConfig effective_;  // file + overlay: what the workers serve
  RuntimeOverlay overlay_;
  snapshot::HostRegistry registry_;
  std::shared_ptr<const snapshot::Snapshot> snapshot_;
  uint64_t snapshot_version_ = 0;
  uint64_t config_version_ = 0;  // successful loads of the file
  uint64_t reloads_ok_ = 0;
  uint64_t reloads_failed_ = 0;
  int64_t last_reload_unix_ = 0;
  ListenerSet listeners_;
  std::map<std::string, HostRuntime> hosts_;  // "cluster/id"
  std::vector<std::unique_ptr<worker::Worker>> workers_;
  std::unique_ptr<health::HealthChecker> health_;
  std::chrono::steady_clock::time_point started_at_;
  int64_t started_unix_ = 0;
  bool stopping_ = false;
  std::thread joiner_;       // joins the workers during shutdown; joined by the destructor
  std::string admin_token_;  // empty: no auth (loopback only, enforced by the loader)
};

}  // namespace lb::control
