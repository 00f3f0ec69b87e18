// The main thread's owner of everything that changes at runtime: the loaded file, the runtime
// overlay (admin API changes), host states, the workers' snapshots, listener sockets, active
// health checks, outlier ejections and the state file. The admin API and signal handlers
// call it; it talks to workers only by posting to their loops and answers asynchronously
// once every worker has acted. Owner: the main thread (every method).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/event_loop.h"
#include "config/model.h"
#include "proxy/control/metrics_input.h"
#include "proxy/control/runtime_overlay.h"
#include "proxy/health/health_checker.h"
#include "proxy/snapshot/snapshot.h"
#include "proxy/worker/worker.h"

namespace lb::log {
class AccessLogWriter;
}

namespace lb::control {

// An admin answer: HTTP status and a JSON body.
using Reply = std::function<void(int status, const nlohmann::json& body)>;

nlohmann::json errorBody(const std::string& code, const std::string& message);

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
  const std::vector<std::unique_ptr<worker::Worker>>& workers() const { return workers_; }

  // Admin operations. Each answers through `reply`, on the main thread.
  void reload(Reply reply);
  void status(Reply reply);
  void listClusters(Reply reply);
  void getCluster(const std::string& cluster, Reply reply);
  void addHost(const std::string& cluster, const std::string& body, Reply reply);
  void removeHost(const std::string& cluster, const std::string& id, bool force, Reply reply);
  void setState(const std::string& cluster, const std::string& id, const std::string& body,
                Reply reply);
  void setWeight(const std::string& cluster, const std::string& id, const std::string& body,
                 Reply reply);
  void stats(uint32_t window_s, Reply reply);
  // Prometheus text exposition.
  void metrics(std::function<void(const MetricsInput&)> done);

 private:
  // Main-thread bookkeeping per host (by cluster/id).
  struct HostRuntime {
    uint32_t passes = 0;  // consecutive, active checks
    uint32_t failures = 0;
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
  struct Listener {
    std::string address;  // as configured
    uint16_t port = 0;    // bound
  };

  // Builds the effective config and a snapshot from it and sends it to every worker;
  // `done` runs when all have switched. Returns false and sets *error when it cannot.
  // `reread_certificates`: a config reload reads TLS certificate files again; a runtime change
  // (hosts, weights) keeps the listeners' TLS contexts, so it cannot fail on a file being renewed.
  bool publish(const config::ProxyConfig& file, std::function<void()> done, std::string* error,
               bool reread_certificates = false);
  void forEachWorker(const std::function<void(worker::Worker&, std::function<void()>)>& fn,
                     std::function<void()> all_done);
  void collectReports(uint32_t window_s,
                      std::function<void(std::vector<worker::WorkerReport>)> done);
  const config::ClusterConfig* effectiveCluster(const std::string& name) const;
  const config::HostConfig* effectiveHost(const std::string& cluster, const std::string& id) const;
  std::shared_ptr<upstream::HostState> hostState(const std::string& cluster,
                                                 const std::string& id) const;
  HostRuntime& runtime(const upstream::HostState& host);
  nlohmann::json hostJson(const config::HostConfig& h, const upstream::HostState& state,
                          const std::vector<worker::WorkerReport>& reports) const;
  nlohmann::json clusterJson(const config::ClusterConfig& c,
                             const std::vector<worker::WorkerReport>& reports) const;
  void answerHost(const std::string& cluster, const std::string& id, int status, Reply reply);
  void setAdminState(upstream::HostState& host, upstream::AdminState state);
  // Admin states set through the API, onto the snapshot's (possibly new) host states.
  void applyAdminOverrides(const snapshot::Snapshot& snap);
  void markUsabilityChange(upstream::HostState& host, bool was_usable);
  void onCheckResult(const std::shared_ptr<upstream::HostState>& host, health::CheckResult r);
  void onOutlier(const std::shared_ptr<upstream::HostState>& host, stream::OutlierKind kind);
  void saveState();
  bool readTokenFile(const config::ProxyConfig& cfg, std::string* error);

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
  std::map<std::string, Listener> listeners_;
  std::map<std::string, HostRuntime> hosts_;  // "cluster/id"
  std::vector<std::unique_ptr<worker::Worker>> workers_;
  std::unique_ptr<health::HealthChecker> health_;
  std::chrono::steady_clock::time_point started_at_;
  int64_t started_unix_ = 0;
  bool stopping_ = false;
  std::thread joiner_;  // joins the workers during shutdown; joined by the destructor

 public:
  std::string admin_token;  // empty: no auth (loopback only, enforced by the loader)
};

}  // namespace lb::control
