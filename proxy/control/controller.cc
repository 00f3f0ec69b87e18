#include "proxy/control/controller.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/durable_file.h"
#include "config/loader.h"
#include "config/values.h"
#include "proxy/control/host_policy.h"

namespace lb::control {

using upstream::AdminState;
using upstream::Health;
using upstream::HostState;

namespace {

constexpr const char* kVersion = "0.1.0";

int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string hostKey(const std::string& cluster, const std::string& id) {
  return cluster + "/" + id;
}

ControlError noCluster(const std::string& cluster) {
  return {ControlError::Kind::kNotFound, "no cluster named \"" + cluster + "\""};
}

// The admin token a config asks for: "" for none, nullopt + *error when it cannot be read.
std::optional<std::string> readAdminToken(const config::ProxyConfig& cfg, std::string* error) {
  if (!cfg.admin.enabled || cfg.admin.token_file.empty()) return std::string();
  std::ifstream in(cfg.admin.token_file);
  std::string token;
  if (!in || !std::getline(in, token)) {
    *error = "admin.token_file: cannot read " + cfg.admin.token_file;
    return std::nullopt;
  }
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (token.size() < 16) {
    *error = "admin.token_file: the token must be at least 16 characters";
    return std::nullopt;
  }
  return token;
}

}  // namespace

Controller::Controller(common::EventLoop& loop, std::string config_path,
                       log::AccessLogWriter* access_log)
    : loop_(loop), config_path_(std::move(config_path)), access_log_(access_log) {}

Controller::~Controller() {
  if (joiner_.joinable()) joiner_.join();
}

bool Controller::start(const config::ProxyConfig& config, uint32_t n_workers, std::string* error) {
  started_at_ = std::chrono::steady_clock::now();
  started_unix_ = unixNow();
  file_ = config;
  auto token = readAdminToken(config, error);
  if (!token) return false;
  admin_token_ = std::move(*token);
  if (!config.admin.state_file.empty()) {
    std::ifstream in(config.admin.state_file);
    if (in) {
      std::stringstream text;
      text << in.rdbuf();
      std::string why;
      if (!overlay_.fromJson(text.str(), &why)) {
        *error = "admin.state_file " + config.admin.state_file + ": " + why;
        return false;
      }
      std::fprintf(stderr, "lbproxy: restored runtime state from %s\n",
                   config.admin.state_file.c_str());
    }
  }
  effective_ = overlay_.apply(file_);
  snapshot_ = snapshot::buildSnapshot(effective_, ++snapshot_version_, registry_, error);
  if (!snapshot_) return false;
  config_version_ = 1;
  for (const auto& c : snapshot_->clusters)
    for (const auto& h : c.hosts) h->ramp_start_ms.store(0);  // full traffic at once
  applyAdminOverrides(*snapshot_);

  std::vector<std::pair<std::string, std::string>> wanted;
  for (const auto& l : snapshot_->listeners) wanted.emplace_back(l.name, l.address);
  auto change = listeners_.prepare(wanted, n_workers, error);
  if (!change) return false;
  for (const auto& [name, b] : change->added()) {
    std::string host = b.address.substr(0, b.address.rfind(':'));
    std::printf("lbproxy: listener %s on %s:%u\n", name.c_str(), host.c_str(), b.port);
  }
  listeners_.commit(*change);
  ListenerSet::WorkerFds fds = change->takeFds();

  worker::WorkerHooks hooks;
  hooks.context.access_log = access_log_;
  hooks.shutdown_timeout = config.shutdown_timeout;
  hooks.context.workers = n_workers;
  hooks.context.on_outlier = [this](std::shared_ptr<HostState> host, stream::OutlierKind kind) {
    loop_.post([this, host = std::move(host), kind] { onOutlier(host, kind); });
  };
  for (uint32_t w = 0; w < n_workers; ++w)
    workers_.push_back(std::make_unique<worker::Worker>(w, snapshot_, std::move(fds[w]), hooks));
  for (auto& w : workers_) w->start();

  health_ = std::make_unique<health::HealthChecker>(
      loop_,
      [this](const std::shared_ptr<HostState>& h, health::CheckResult r) { onCheckResult(h, r); });
  health_->sync(*snapshot_);
  return true;
}

void Controller::shutdown(std::function<void()> done) {
  if (stopping_) return;
  stopping_ = true;
  health_->stop();
  for (auto& [key, rt] : hosts_) {
    rt.eject_timer.reset();
    rt.drain_timer.reset();
  }
  for (auto& w : workers_) w->beginShutdown();
  // Join off the loop thread so signals keep being handled meanwhile.
  joiner_ = std::thread([this, done = std::move(done)] {
    for (auto& w : workers_) w->join();
    loop_.post(done);
  });
}

void Controller::forEachWorker(
    const std::function<void(worker::Worker&, std::function<void()>)>& fn,
    std::function<void()> all_done) {
  if (workers_.empty()) {
    all_done();
    return;
  }
  auto remaining = std::make_shared<size_t>(workers_.size());
  auto finish = std::make_shared<std::function<void()>>(std::move(all_done));
  for (auto& w : workers_) {
    fn(*w, [this, remaining, finish] {
      loop_.post([remaining, finish] {
        if (--*remaining == 0) (*finish)();
      });
    });
  }
}

void Controller::collectReports(uint32_t window_s, std::function<void(MergedReports)> done) {
  auto reports = std::make_shared<std::vector<worker::WorkerReport>>();
  auto remaining = std::make_shared<size_t>(workers_.size());
  auto finish = std::make_shared<decltype(done)>(std::move(done));
  if (workers_.empty()) {
    (*finish)({});
    return;
  }
  for (auto& w : workers_) {
    w->collect(window_s, [this, reports, remaining, finish](worker::WorkerReport r) {
      loop_.post([reports, remaining, finish, r = std::move(r)]() mutable {
        reports->push_back(std::move(r));
        if (--*remaining == 0) (*finish)(mergeReports(*reports));
      });
    });
  }
}

bool Controller::publish(const config::ProxyConfig& file, std::function<void()> done,
                         std::string* error, bool reread_certificates) {
  config::ProxyConfig effective = overlay_.apply(file);

  // Listeners first, before anything changes: keep those whose name and address are
  // unchanged, open the new ones; a port that cannot be bound fails the whole reload.
  std::vector<std::pair<std::string, std::string>> wanted;
  for (const auto& l : effective.listeners) wanted.emplace_back(l.name, l.listen);
  auto change = listeners_.prepare(wanted, workers_.size(), error);
  if (!change) return false;
  auto snap = snapshot::buildSnapshot(effective, snapshot_version_ + 1, registry_, error,
                                      snapshot_.get(), reread_certificates);
  if (!snap) return false;  // the change closes the sockets it opened
  for (const auto& [name, b] : change->added())
    std::fprintf(stderr, "lbproxy: listener %s added on %s (port %u)\n", name.c_str(),
                 b.address.c_str(), b.port);
  for (const auto& name : change->removed())
    std::fprintf(stderr, "lbproxy: listener %s removed\n", name.c_str());
  listeners_.commit(*change);

  registry_.prune(*snap);
  applyAdminOverrides(*snap);
  std::map<std::string, HostRuntime> kept;
  for (const auto& c : snap->clusters)
    for (const auto& h : c.hosts) {
      std::string key = hostKey(c.config.name, h->id);
      auto it = hosts_.find(key);
      if (it != hosts_.end()) kept[key] = std::move(it->second);
    }
  hosts_ = std::move(kept);

  file_ = file;
  effective_ = std::move(effective);
  snapshot_ = snap;
  snapshot_version_ = snap->version;
  health_->sync(*snap);
  size_t i = 0;
  ListenerSet::WorkerFds fds_by_worker = change->takeFds();
  forEachWorker(
      [&](worker::Worker& w, std::function<void()> ack) {
        w.applySnapshot(snap, std::move(fds_by_worker[i++]), std::move(ack));
      },
      std::move(done));
  return true;
}

void Controller::reload(Done<ReloadView> done) {
  config::LoadResult loaded = config::loadProxyConfigFile(config_path_);
  if (!loaded.ok()) {
    ++reloads_failed_;
    for (const auto& e : loaded.errors)
      std::fprintf(stderr, "lbproxy: reload: %s\n", e.toString().c_str());
    ControlError err{ControlError::Kind::kInvalidConfig,
                     "the new configuration is invalid; the running configuration stays"};
    err.config_errors = std::move(loaded.errors);
    return done(Result<ReloadView>::fail(std::move(err)));
  }
  std::string error;
  // The new token takes effect with the new config, not before: a failed reload keeps the old.
  std::optional<std::string> token = readAdminToken(loaded.config, &error);
  if (!token) {
    ++reloads_failed_;
    std::fprintf(stderr, "lbproxy: reload: %s\n", error.c_str());
    return done(Result<ReloadView>::fail({ControlError::Kind::kInvalidConfig, error}));
  }
  std::vector<std::string> warnings;
  if (loaded.config.admin.listen != file_.admin.listen)
    warnings.push_back("admin.listen changes take effect at the next restart");
  if (loaded.config.workers != file_.workers)
    warnings.push_back("workers changes take effect at the next restart");
  if (loaded.config.access_log.path != file_.access_log.path ||
      loaded.config.access_log.enabled != file_.access_log.enabled)
    warnings.push_back("access_log changes take effect at the next restart");
  bool ok = publish(
      loaded.config,
      [this, done, warnings] {
        done(Result<ReloadView>::ok(
            {config_version_, snapshot_version_, workers_.size(), warnings}));
      },
      &error, /*reread_certificates=*/true);
  if (!ok) {
    ++reloads_failed_;
    std::fprintf(stderr, "lbproxy: reload: %s\n", error.c_str());
    return done(Result<ReloadView>::fail(
        {ControlError::Kind::kReloadFailed, error + "; the running configuration stays"}));
  }
  admin_token_ = std::move(*token);
  ++config_version_;
  ++reloads_ok_;
  last_reload_unix_ = unixNow();
  std::fprintf(stderr, "lbproxy: configuration reloaded (version %llu)\n",
               static_cast<unsigned long long>(config_version_));
}

StatusView Controller::status() const {
  StatusView v;
  v.version = kVersion;
  v.uptime_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at_).count();
  v.started_unix = started_unix_;
  v.workers = workers_.size();
  v.config_path = config_path_;
  v.config_version = config_version_;
  v.snapshot_version = snapshot_version_;
  v.reloads_ok = reloads_ok_;
  v.reloads_failed = reloads_failed_;
  for (const auto& [name, l] : listeners_.bound()) v.listeners.push_back({name, l.address, l.port});
  v.state_file = file_.admin.state_file;
  return v;
}

const config::ClusterConfig* Controller::effectiveCluster(const std::string& name) const {
  return effective_.findCluster(name);
}

const config::HostConfig* Controller::effectiveHost(const std::string& cluster,
                                                    const std::string& id) const {
  const config::ClusterConfig* c = effectiveCluster(cluster);
  if (!c) return nullptr;
  for (const auto& h : c->hosts)
    if (h.id == id) return &h;
  return nullptr;
}

std::shared_ptr<HostState> Controller::hostState(const std::string& cluster,
                                                 const std::string& id) const {
  return registry_.find(cluster, id);
}

Controller::HostRuntime& Controller::runtime(const HostState& host) {
  return hosts_[hostKey(host.cluster, host.id)];
}

std::optional<ControlError> Controller::findHost(const std::string& cluster,
                                                 const std::string& id) const {
  if (!effectiveCluster(cluster)) return noCluster(cluster);
  if (!hostState(cluster, id) || !effectiveHost(cluster, id))
    return ControlError{ControlError::Kind::kNotFound,
                        "no host \"" + id + "\" in cluster \"" + cluster + "\""};
  return std::nullopt;
}

HostView Controller::hostView(const config::HostConfig& h, const HostState& state,
                              const MergedReports& reports) const {
  const MergedReports::Host& totals = reports.host(&state);
  HostView v;
  v.cluster = state.cluster;
  v.config = h;
  v.weight = state.weight.load();
  v.admin = state.admin.load();
  v.health = state.health.load();
  v.ejected = state.ejected.load();
  v.usable = state.usable();
  v.active_requests = totals.active_requests;
  v.idle_connections = totals.idle_connections;
  v.drained = v.admin != AdminState::kReady && v.active_requests == 0;
  if (auto it = hosts_.find(hostKey(state.cluster, state.id)); it != hosts_.end()) {
    v.last_check = it->second.last_check;
    v.ejections = it->second.ejections;
    v.last_ejection_ms = it->second.last_ejection_ms;
  }
  return v;
}

ClusterView Controller::clusterView(const config::ClusterConfig& c,
                                    const MergedReports& reports) const {
  ClusterView v;
  v.config = c;
  v.config.hosts.clear();
  if (auto it = reports.cluster_queued.find(c.name); it != reports.cluster_queued.end())
    v.queued = it->second;
  for (const auto& h : c.hosts)
    if (auto state = hostState(c.name, h.id)) v.hosts.push_back(hostView(h, *state, reports));
  return v;
}

void Controller::listClusters(std::function<void(std::vector<ClusterView>)> done) {
  collectReports(0, [this, done](MergedReports reports) {
    std::vector<ClusterView> clusters;
    for (const auto& c : effective_.clusters) clusters.push_back(clusterView(c, reports));
    done(std::move(clusters));
  });
}

void Controller::getCluster(const std::string& cluster, Done<ClusterView> done) {
  if (!effectiveCluster(cluster)) return done(Result<ClusterView>::fail(noCluster(cluster)));
  collectReports(0, [this, cluster, done](MergedReports reports) {
    const config::ClusterConfig* c = effectiveCluster(cluster);
    if (!c)
      return done(Result<ClusterView>::fail(
          {ControlError::Kind::kNotFound, "cluster \"" + cluster + "\" was removed"}));
    done(Result<ClusterView>::ok(clusterView(*c, reports)));
  });
}

void Controller::answerHost(const std::string& cluster, const std::string& id,
                            Done<HostAnswer> done) {
  collectReports(0, [this, cluster, id, done](MergedReports reports) {
    HostAnswer a{cluster, id, std::nullopt};
    const config::HostConfig* h = effectiveHost(cluster, id);
    if (auto state = hostState(cluster, id); h && state) a.host = hostView(*h, *state, reports);
    done(Result<HostAnswer>::ok(std::move(a)));
  });
}

void Controller::addHost(AddHost cmd, Done<HostAnswer> done) {
  const config::ClusterConfig* c = effectiveCluster(cmd.cluster);
  if (!c) return done(Result<HostAnswer>::fail(noCluster(cmd.cluster)));
  for (const auto& h : c->hosts) {
    if (h.id == cmd.host.id)
      return done(Result<HostAnswer>::fail(
          {ControlError::Kind::kConflict,
           "host \"" + cmd.host.id + "\" already exists in \"" + cmd.cluster + "\""}));
    if (h.address == cmd.host.address)
      return done(Result<HostAnswer>::fail(
          {ControlError::Kind::kConflict,
           "address " + cmd.host.address + " is already used by host \"" + h.id + "\""}));
  }
  overlay_.addHost(cmd.cluster, cmd.host);
  if (cmd.state) overlay_.overrides[cmd.cluster][cmd.host.id].admin = *cmd.state;
  std::string error;
  bool ok = publish(
      file_,
      [this, cluster = cmd.cluster, id = cmd.host.id, done] { answerHost(cluster, id, done); },
      &error);
  if (!ok) {
    overlay_.removeHost(cmd.cluster, cmd.host.id);
    return done(Result<HostAnswer>::fail({ControlError::Kind::kInternal, error}));
  }
  saveState();
}

void Controller::removeHost(RemoveHost cmd, Done<HostAnswer> done) {
  if (auto err = findHost(cmd.cluster, cmd.id)) return done(Result<HostAnswer>::fail(*err));
  auto state = hostState(cmd.cluster, cmd.id);
  collectReports(0, [this, cmd, state, done](MergedReports r) {
    const uint64_t active = r.host(state.get()).active_requests;
    if (!cmd.force && (state->admin.load() == AdminState::kReady || active > 0)) {
      ControlError err{ControlError::Kind::kConflict,
                       state->admin.load() == AdminState::kReady
                           ? "host is in rotation; drain it first (PUT .../state {\"state\":"
                             "\"drain\"}) or pass ?force=true"
                           : "host still has " + std::to_string(active) +
                                 " active request(s); wait for drained: true or pass ?force=true"};
      err.active_requests = active;
      return done(Result<HostAnswer>::fail(std::move(err)));
    }
    if (!effectiveHost(cmd.cluster, cmd.id))
      return done(
          Result<HostAnswer>::fail({ControlError::Kind::kNotFound, "no host \"" + cmd.id + "\""}));
    overlay_.removeHost(cmd.cluster, cmd.id);
    std::string error;
    bool ok = publish(
        file_,
        [cmd, done] {
          done(Result<HostAnswer>::ok({cmd.cluster, cmd.id, std::nullopt}));
        },
        &error);
    if (!ok) return done(Result<HostAnswer>::fail({ControlError::Kind::kInternal, error}));
    saveState();
  });
}

void Controller::applyAdminOverrides(const snapshot::Snapshot& snap) {
  for (const auto& c : snap.clusters) {
    auto ov = overlay_.overrides.find(c.config.name);
    if (ov == overlay_.overrides.end()) continue;
    for (const auto& h : c.hosts) {
      auto o = ov->second.find(h->id);
      if (o != ov->second.end() && o->second.admin) h->admin.store(*o->second.admin);
    }
  }
}

void Controller::markUsabilityChange(HostState& host, bool was_usable) {
  if (!was_usable && host.usable()) host.ramp_start_ms.store(upstream::steadyMillis());
}

void Controller::setAdminState(HostState& host, AdminState state) {
  bool was_usable = host.usable();
  host.admin.store(state);
  markUsabilityChange(host, was_usable);
  overlay_.overrides[host.cluster][host.id].admin = state;
  HostRuntime& rt = runtime(host);
  if (state == AdminState::kMaint) {
    // Out of health checks: forget the streaks, the host starts over when it is back.
    rt.streak = {};
  }
  rt.drain_timer.reset();
}

void Controller::setState(SetHostState cmd, Done<HostAnswer> done) {
  if (auto err = findHost(cmd.cluster, cmd.id)) return done(Result<HostAnswer>::fail(*err));
  auto state = hostState(cmd.cluster, cmd.id);
  setAdminState(*state, cmd.state);
  saveState();
  if (cmd.deadline) {
    HostRuntime& rt = runtime(*state);
    rt.drain_timer = std::make_unique<common::Timer>(loop_, [this, state] {
      if (state->admin.load() != AdminState::kDrain) return;
      std::fprintf(stderr, "lbproxy: drain deadline of %s/%s passed; closing its requests\n",
                   state->cluster.c_str(), state->id.c_str());
      forEachWorker([state](worker::Worker& w,
                            std::function<void()> ack) { w.abortHost(state, std::move(ack)); },
                    [] {});
    });
    rt.drain_timer->start(*cmd.deadline);
  }
  // Answer once every worker has seen the change and dropped idle connections to the host:
  // from then on no new request can reach it.
  const bool ready = cmd.state == AdminState::kReady;
  forEachWorker(
      [ready, state](worker::Worker& w, std::function<void()> ack) {
        w.closeIdle(ready ? nullptr : state, std::move(ack));
      },
      [this, cmd, done] { answerHost(cmd.cluster, cmd.id, done); });
}

void Controller::setWeight(SetHostWeight cmd, Done<HostAnswer> done) {
  if (auto err = findHost(cmd.cluster, cmd.id)) return done(Result<HostAnswer>::fail(*err));
  overlay_.overrides[cmd.cluster][cmd.id].weight = cmd.weight;
  std::string error;
  // Rebuilt so ring_hash rings follow the new weight too.
  bool ok = publish(
      file_, [this, cmd, done] { answerHost(cmd.cluster, cmd.id, done); }, &error);
  if (!ok) return done(Result<HostAnswer>::fail({ControlError::Kind::kInternal, error}));
  saveState();
}

void Controller::stats(uint32_t window_s, std::function<void(StatsView)> done) {
  collectReports(window_s, [this, window_s, done](MergedReports reports) {
    StatsView v;
    v.window_s = window_s;
    std::map<std::string, const config::RouteConfig*> route_configs;
    for (const auto& l : file_.listeners)
      for (const auto& r : l.routes) route_configs[r.name] = &r;
    for (const auto& name : snapshot_->routes) {
      StatsView::Route route{name, reports.route(name), std::nullopt, {}, false, false};
      if (auto it = route_configs.find(name); it != route_configs.end()) {
        route.cluster = it->second->cluster;
        route.slo = it->second->slo;
        route.sticky = it->second->sticky.enabled;
        route.compression = it->second->compression.enabled;
      }
      v.routes.push_back(std::move(route));
    }
    for (const auto& c : snapshot_->clusters) {
      std::vector<StatsView::Host> hosts;
      for (const auto& h : c.hosts) hosts.push_back({h->id, reports.host(h.get())});
      v.clusters.emplace_back(c.config.name, std::move(hosts));
    }
    done(std::move(v));
  });
}

void Controller::metrics(std::function<void(const MetricsInput&)> done) {
  collectReports(0, [this, done](MergedReports reports) {
    MetricsInput in;
    in.snapshot = snapshot_.get();
    in.config = &effective_;
    in.reports = std::move(reports);
    in.config_version = config_version_;
    in.reloads_ok = reloads_ok_;
    in.reloads_failed = reloads_failed_;
    in.last_reload_unix = last_reload_unix_;
    in.started_unix = started_unix_;
    for (const auto& [key, rt] : hosts_) {
      HostExtra& e = in.host_extra[key];
      e.check_results = rt.check_results;
      e.ejections = rt.ejections;
    }
    done(in);
  });
}

void Controller::onCheckResult(const std::shared_ptr<HostState>& host, health::CheckResult r) {
  const config::ClusterConfig* c = effectiveCluster(host->cluster);
  if (!c || !c->health_check.enabled || stopping_) return;
  HostRuntime& rt = runtime(*host);
  ++rt.check_results[static_cast<size_t>(r)];
  rt.last_check = health::checkResultName(r);
  const Health before = host->health.load();
  const bool was_usable = host->usable();
  if (auto next = recordCheck(rt.streak, r == health::CheckResult::kPass, before, c->health_check))
    host->health.store(*next);
  const Health after = host->health.load();
  if (after != before) {
    markUsabilityChange(*host, was_usable);
    std::fprintf(stderr, "lbproxy: host %s/%s is now %s (last check: %s)\n", host->cluster.c_str(),
                 host->id.c_str(), upstream::healthName(after), rt.last_check.c_str());
  }
}

void Controller::onOutlier(const std::shared_ptr<HostState>& host, stream::OutlierKind kind) {
  const config::ClusterConfig* c = effectiveCluster(host->cluster);
  // Ignore reports about a host that was removed (or replaced under the same id) meanwhile.
  if (!c || !c->outlier_detection.enabled || stopping_ ||
      registry_.find(host->cluster, host->id) != host)
    return;
  if (host->ejected.load()) return;
  const config::OutlierConfig& od = c->outlier_detection;
  size_t ejected = 0;
  for (const auto& h : c->hosts)
    if (auto st = hostState(c->name, h.id); st && st->ejected.load()) ++ejected;
  HostRuntime& rt = runtime(*host);
  const Ejection decision = decideEjection(od, c->hosts.size(), ejected, rt.ejections);
  if (!decision.allowed) {
    // Every failure of a host that stays over the threshold reports again: log once a minute.
    const int64_t now = upstream::steadyMillis();
    if (rt.cap_logged_ms != 0 && now - rt.cap_logged_ms < 60000) return;
    rt.cap_logged_ms = now;
    std::fprintf(stderr,
                 "lbproxy: host %s/%s crossed the outlier threshold, but ejecting it would pass "
                 "max_ejection_percent (%u%%)\n",
                 host->cluster.c_str(), host->id.c_str(), od.max_ejection_percent);
    return;
  }
  ++rt.ejections;
  const config::Duration duration = decision.duration;
  host->ejected.store(true);
  rt.ejected_until_ms = upstream::steadyMillis() + duration.count();
  rt.last_ejection_ms = duration.count();
  std::fprintf(stderr, "lbproxy: ejected host %s/%s for %lld ms (%s, ejection %u)\n",
               host->cluster.c_str(), host->id.c_str(), static_cast<long long>(duration.count()),
               kind == stream::OutlierKind::kConsecutive5xx ? "consecutive 5xx"
                                                            : "consecutive connect failures",
               rt.ejections);
  rt.eject_timer = std::make_unique<common::Timer>(loop_, [this, host] {
    bool was_usable = host->usable();
    host->ejected.store(false);
    markUsabilityChange(*host, was_usable);
    std::fprintf(stderr, "lbproxy: host %s/%s is back from ejection\n", host->cluster.c_str(),
                 host->id.c_str());
  });
  rt.eject_timer->start(duration);
}

void Controller::saveState() {
  const std::string& path = file_.admin.state_file;
  if (path.empty()) return;
  std::string error;
  if (!common::writeFileDurably(path, overlay_.toJson(), &error))
    std::fprintf(stderr, "lbproxy: state file: %s\n", error.c_str());
}

}  // namespace lb::control
