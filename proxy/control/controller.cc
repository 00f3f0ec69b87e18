#include "proxy/control/controller.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/durable_file.h"
#include "common/http_server.h"
#include "config/loader.h"
#include "config/values.h"
#include "proxy/net/listen_socket.h"

namespace lb::control {

using nlohmann::json;
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

bool validHostId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
      return false;
  return true;
}

// Parses a JSON object body; on failure replies 400 and returns false.
bool parseBody(const std::string& body, json* out, const Reply& reply) {
  try {
    *out = json::parse(body);
  } catch (const json::exception& e) {
    reply(400, errorBody("bad_request", std::string("body is not valid JSON: ") + e.what()));
    return false;
  }
  if (!out->is_object()) {
    reply(400, errorBody("bad_request", "body must be a JSON object"));
    return false;
  }
  return true;
}

using WorkerFds = std::vector<std::map<std::string, int>>;  // per worker: listener -> fd

void closeAll(WorkerFds& fds) {
  for (auto& m : fds)
    for (auto& [name, fd] : m) ::close(fd);
  fds.clear();
}

// One SO_REUSEPORT socket per worker for a listener (the kernel spreads connections, and a
// connection never changes worker), into fds[w][name]. Returns the bound port, or 0 with
// *error set (the sockets opened so far stay in fds for the caller to close).
uint16_t openListener(const std::string& name, const std::string& address, WorkerFds& fds,
                      std::string* error) {
  uint16_t port = 0;
  for (auto& worker_fds : fds) {
    uint16_t bound = 0;
    int fd = net::openListenSocket(address, port, &bound, error);
    if (fd < 0) {
      *error = "listener " + name + ": " + *error;
      return 0;
    }
    port = bound;
    worker_fds[name] = fd;
  }
  return port;
}

}  // namespace

namespace {

// The one check of a weight field from the admin API (the range is config's, as for files).
bool validWeight(const json& w) {
  return w.is_number_unsigned() && w.get<uint64_t>() >= config::kMinWeight &&
         w.get<uint64_t>() <= config::kMaxWeight;
}

json weightError() {
  return errorBody("bad_request", "field \"weight\" must be an integer " +
                                      std::to_string(config::kMinWeight) + "-" +
                                      std::to_string(config::kMaxWeight));
}

json noCluster(const std::string& cluster) {
  return errorBody("not_found", "no cluster named \"" + cluster + "\"");
}

}  // namespace

json errorBody(const std::string& code, const std::string& message) {
  return common::errorBody(code, message);
}

Controller::Controller(common::EventLoop& loop, std::string config_path,
                       log::AccessLogWriter* access_log)
    : loop_(loop), config_path_(std::move(config_path)), access_log_(access_log) {}

Controller::~Controller() {
  if (joiner_.joinable()) joiner_.join();
}

bool Controller::readTokenFile(const config::ProxyConfig& cfg, std::string* error) {
  if (!cfg.admin.enabled || cfg.admin.token_file.empty()) {
    admin_token.clear();
    return true;
  }
  std::ifstream in(cfg.admin.token_file);
  std::string token;
  if (!in || !std::getline(in, token)) {
    *error = "admin.token_file: cannot read " + cfg.admin.token_file;
    return false;
  }
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (token.size() < 16) {
    *error = "admin.token_file: the token must be at least 16 characters";
    return false;
  }
  admin_token = token;
  return true;
}

bool Controller::start(const config::ProxyConfig& config, uint32_t n_workers, std::string* error) {
  started_at_ = std::chrono::steady_clock::now();
  started_unix_ = unixNow();
  file_ = config;
  if (!readTokenFile(config, error)) return false;
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

  WorkerFds fds(n_workers);
  for (const auto& l : snapshot_->listeners) {
    uint16_t port = openListener(l.name, l.address, fds, error);
    if (port == 0) {
      closeAll(fds);
      return false;
    }
    listeners_[l.name] = {l.address, port};
    std::string host = l.address.substr(0, l.address.rfind(':'));
    std::printf("lbproxy: listener %s on %s:%u\n", l.name.c_str(), host.c_str(), port);
  }

  worker::WorkerHooks hooks;
  hooks.context.access_log = access_log_;
  hooks.shutdown_timeout = config.shutdown_timeout;
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

void Controller::collectReports(uint32_t window_s,
                                std::function<void(std::vector<worker::WorkerReport>)> done) {
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
        if (--*remaining == 0) (*finish)(std::move(*reports));
      });
    });
  }
}

bool Controller::publish(const config::ProxyConfig& file, std::function<void()> done,
                         std::string* error, bool reread_certificates) {
  config::ProxyConfig effective = overlay_.apply(file);

  // Listeners first, before anything changes: keep those whose name and address are
  // unchanged, open the new ones; a port that cannot be bound fails the whole reload.
  WorkerFds new_fds(workers_.size());
  std::map<std::string, Listener> listeners;
  for (const auto& l : effective.listeners) {
    auto it = listeners_.find(l.name);
    if (it != listeners_.end() && it->second.address == l.listen) {
      listeners[l.name] = it->second;
      continue;
    }
    uint16_t port = openListener(l.name, l.listen, new_fds, error);
    if (port == 0) {
      closeAll(new_fds);
      return false;
    }
    listeners[l.name] = {l.listen, port};
    std::fprintf(stderr, "lbproxy: listener %s added on %s (port %u)\n", l.name.c_str(),
                 l.listen.c_str(), port);
  }
  auto snap = snapshot::buildSnapshot(effective, snapshot_version_ + 1, registry_, error,
                                      reread_certificates ? nullptr : snapshot_.get());
  if (!snap) {
    closeAll(new_fds);
    return false;
  }
  for (const auto& [name, l] : listeners_)
    if (!listeners.count(name))
      std::fprintf(stderr, "lbproxy: listener %s removed\n", name.c_str());
  listeners_ = std::move(listeners);

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
  WorkerFds fds_by_worker = std::move(new_fds);
  forEachWorker(
      [&](worker::Worker& w, std::function<void()> ack) {
        w.applySnapshot(snap, std::move(fds_by_worker[i++]), std::move(ack));
      },
      std::move(done));
  return true;
}

void Controller::reload(Reply reply) {
  config::LoadResult loaded = config::loadProxyConfigFile(config_path_);
  if (!loaded.ok()) {
    ++reloads_failed_;
    json errors = json::array();
    for (const auto& e : loaded.errors) {
      std::fprintf(stderr, "lbproxy: reload: %s\n", e.toString().c_str());
      errors.push_back({{"file", e.file},
                        {"line", e.mark.line},
                        {"column", e.mark.column},
                        {"field", e.path},
                        {"message", e.message},
                        {"text", e.toString()}});
    }
    json body = errorBody("invalid_config",
                          "the new configuration is invalid; the running "
                          "configuration stays");
    body["errors"] = errors;
    reply(422, body);
    return;
  }
  std::string error;
  std::string old_token = admin_token;
  if (!readTokenFile(loaded.config, &error)) {
    ++reloads_failed_;
    admin_token = old_token;
    std::fprintf(stderr, "lbproxy: reload: %s\n", error.c_str());
    reply(422, errorBody("invalid_config", error));
    return;
  }
  json warnings = json::array();
  if (loaded.config.admin.listen != file_.admin.listen)
    warnings.push_back("admin.listen changes take effect at the next restart");
  if (loaded.config.workers != file_.workers)
    warnings.push_back("workers changes take effect at the next restart");
  if (loaded.config.access_log.path != file_.access_log.path ||
      loaded.config.access_log.enabled != file_.access_log.enabled)
    warnings.push_back("access_log changes take effect at the next restart");
  bool ok = publish(
      loaded.config,
      [this, reply, warnings] {
        reply(200, {{"result", "reloaded"},
                    {"config_version", config_version_},
                    {"snapshot_version", snapshot_version_},
                    {"workers_switched", workers_.size()},
                    {"warnings", warnings}});
      },
      &error, /*reread_certificates=*/true);
  if (!ok) {
    ++reloads_failed_;
    admin_token = old_token;
    std::fprintf(stderr, "lbproxy: reload: %s\n", error.c_str());
    reply(422, errorBody("reload_failed", error + "; the running configuration stays"));
    return;
  }
  ++config_version_;
  ++reloads_ok_;
  last_reload_unix_ = unixNow();
  std::fprintf(stderr, "lbproxy: configuration reloaded (version %llu)\n",
               static_cast<unsigned long long>(config_version_));
}

void Controller::status(Reply reply) {
  json listeners = json::array();
  for (const auto& [name, l] : listeners_)
    listeners.push_back({{"name", name}, {"address", l.address}, {"port", l.port}});
  double uptime =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at_).count();
  reply(200, {{"version", kVersion},
              {"uptime_seconds", uptime},
              {"started_at_unix", started_unix_},
              {"workers", workers_.size()},
              {"config_path", config_path_},
              {"config_version", config_version_},
              {"snapshot_version", snapshot_version_},
              {"reloads", {{"ok", reloads_ok_}, {"failed", reloads_failed_}}},
              {"listeners", listeners},
              {"state_file", file_.admin.state_file}});
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

json Controller::hostJson(const config::HostConfig& h, const HostState& state,
                          const std::vector<worker::WorkerReport>& reports) const {
  uint64_t active = 0, idle = 0;
  for (const auto& r : reports) {
    auto it = r.hosts.find(&state);
    if (it == r.hosts.end()) continue;
    active += it->second.active_requests;
    idle += it->second.idle_connections;
  }
  AdminState admin = state.admin.load();
  json j = {{"id", h.id},
            {"address", h.address},
            {"weight", state.weight.load()},
            {"labels", h.labels},
            {"state", upstream::adminStateName(admin)},
            {"health", upstream::healthName(state.health.load())},
            {"ejected", state.ejected.load()},
            {"usable", state.usable()},
            {"active_requests", active},
            {"connections", {{"active", active}, {"idle", idle}}},
            {"drained", admin != AdminState::kReady && active == 0}};
  auto it = hosts_.find(hostKey(state.cluster, state.id));
  if (it != hosts_.end()) {
    j["last_check"] = it->second.last_check;
    j["ejections"] = it->second.ejections;
    j["last_ejection_ms"] = it->second.last_ejection_ms;
  }
  return j;
}

json Controller::clusterJson(const config::ClusterConfig& c,
                             const std::vector<worker::WorkerReport>& reports) const {
  json hosts = json::array();
  for (const auto& h : c.hosts)
    if (auto state = hostState(c.name, h.id)) hosts.push_back(hostJson(h, *state, reports));
  json hc = {{"enabled", c.health_check.enabled}};
  if (c.health_check.enabled) {
    hc["path"] = c.health_check.path;
    hc["interval_ms"] = c.health_check.interval.count();
    hc["timeout_ms"] = c.health_check.timeout.count();
    hc["healthy_threshold"] = c.health_check.healthy_threshold;
    hc["unhealthy_threshold"] = c.health_check.unhealthy_threshold;
  }
  return {{"name", c.name},
          {"balancer", config::balancerName(c.balancer)},
          {"health_check", hc},
          {"outlier_detection", c.outlier_detection.enabled},
          {"slow_start_ms", c.slow_start.count()},
          {"hosts", hosts}};
}

void Controller::listClusters(Reply reply) {
  collectReports(0, [this, reply](std::vector<worker::WorkerReport> reports) {
    json clusters = json::array();
    for (const auto& c : effective_.clusters) clusters.push_back(clusterJson(c, reports));
    reply(200, {{"clusters", clusters}});
  });
}

void Controller::getCluster(const std::string& cluster, Reply reply) {
  if (!effectiveCluster(cluster)) {
    reply(404, noCluster(cluster));
    return;
  }
  collectReports(0, [this, cluster, reply](std::vector<worker::WorkerReport> reports) {
    const config::ClusterConfig* c = effectiveCluster(cluster);
    if (!c) {
      reply(404, errorBody("not_found", "cluster \"" + cluster + "\" was removed"));
      return;
    }
    reply(200, clusterJson(*c, reports));
  });
}

void Controller::answerHost(const std::string& cluster, const std::string& id, int status,
                            Reply reply) {
  collectReports(0, [this, cluster, id, status, reply](std::vector<worker::WorkerReport> reports) {
    const config::HostConfig* h = effectiveHost(cluster, id);
    auto state = hostState(cluster, id);
    if (!h || !state) {
      reply(status, {{"cluster", cluster}, {"id", id}, {"removed", true}});
      return;
    }
    json body = hostJson(*h, *state, reports);
    body["cluster"] = cluster;
    reply(status, body);
  });
}

void Controller::addHost(const std::string& cluster, const std::string& body, Reply reply) {
  const config::ClusterConfig* c = effectiveCluster(cluster);
  if (!c) {
    reply(404, noCluster(cluster));
    return;
  }
  json j;
  if (!parseBody(body, &j, reply)) return;
  config::HostConfig host;
  std::optional<AdminState> initial;
  try {
    if (!j.contains("id") || !j["id"].is_string())
      return reply(400, errorBody("bad_request", "field \"id\" (string) is required"));
    if (!j.contains("address") || !j["address"].is_string())
      return reply(400,
                   errorBody("bad_request", "field \"address\" (string, IP:PORT) is required"));
    host.id = j["id"].get<std::string>();
    host.address = j["address"].get<std::string>();
    if (j.contains("weight")) {
      if (!validWeight(j["weight"])) return reply(400, weightError());
      host.weight = j["weight"].get<uint32_t>();
    }
    if (j.contains("labels")) {
      if (!j["labels"].is_object())
        return reply(400, errorBody("bad_request", "field \"labels\" must be an object"));
      for (const auto& [k, v] : j["labels"].items()) {
        if (!v.is_string())
          return reply(400, errorBody("bad_request", "label \"" + k + "\" must be a string"));
        host.labels[k] = v.get<std::string>();
      }
    }
    if (j.contains("state")) {
      if (j["state"].is_string()) initial = parseAdminState(j["state"].get<std::string>());
      if (!initial)
        return reply(400,
                     errorBody("bad_request", "field \"state\" must be ready, drain or maint"));
    }
    for (const auto& [k, v] : j.items())
      if (k != "id" && k != "address" && k != "weight" && k != "labels" && k != "state")
        return reply(400, errorBody("bad_request", "unknown field \"" + k + "\""));
  } catch (const json::exception& e) {
    return reply(400, errorBody("bad_request", e.what()));
  }
  if (!validHostId(host.id))
    return reply(400, errorBody("bad_request", "field \"id\" must be 1-128 of A-Z a-z 0-9 . _ -"));
  if (!config::parseHostPort(host.address, false))
    return reply(400, errorBody("bad_request", "field \"address\": invalid address \"" +
                                                   host.address + "\" (expected IP:PORT)"));
  for (const auto& h : c->hosts) {
    if (h.id == host.id)
      return reply(409, errorBody("conflict", "host \"" + host.id + "\" already exists in \"" +
                                                  cluster + "\""));
    if (h.address == host.address)
      return reply(409, errorBody("conflict", "address " + host.address +
                                                  " is already used by "
                                                  "host \"" +
                                                  h.id + "\""));
  }
  overlay_.addHost(cluster, host);
  if (initial) overlay_.overrides[cluster][host.id].admin = *initial;
  std::string error;
  bool ok = publish(
      file_, [this, cluster, id = host.id, reply] { answerHost(cluster, id, 201, reply); }, &error);
  if (!ok) {
    overlay_.removeHost(cluster, host.id);
    reply(500, errorBody("internal", error));
    return;
  }
  saveState();
}

void Controller::removeHost(const std::string& cluster, const std::string& id, bool force,
                            Reply reply) {
  if (!effectiveCluster(cluster)) return reply(404, noCluster(cluster));
  auto state = hostState(cluster, id);
  if (!state || !effectiveHost(cluster, id))
    return reply(404,
                 errorBody("not_found", "no host \"" + id + "\" in cluster \"" + cluster + "\""));
  collectReports(0, [this, cluster, id, force, state, reply](std::vector<worker::WorkerReport> r) {
    uint64_t active = 0;
    for (const auto& wr : r)
      if (auto it = wr.hosts.find(state.get()); it != wr.hosts.end())
        active += it->second.active_requests;
    if (!force && (state->admin.load() == AdminState::kReady || active > 0)) {
      json body = errorBody(
          "conflict", state->admin.load() == AdminState::kReady
                          ? "host is in rotation; drain it first (PUT .../state {\"state\":"
                            "\"drain\"}) or pass ?force=true"
                          : "host still has " + std::to_string(active) +
                                " active request(s); wait for drained: true or pass ?force=true");
      body["active_requests"] = active;
      return reply(409, body);
    }
    if (!effectiveHost(cluster, id))
      return reply(404, errorBody("not_found", "no host \"" + id + "\""));
    overlay_.removeHost(cluster, id);
    std::string error;
    bool ok = publish(
        file_,
        [cluster, id, reply] {
          reply(200, {{"cluster", cluster}, {"id", id}, {"removed", true}});
        },
        &error);
    if (!ok) return reply(500, errorBody("internal", error));
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
    rt.passes = rt.failures = 0;
  }
  rt.drain_timer.reset();
}

void Controller::setState(const std::string& cluster, const std::string& id,
                          const std::string& body, Reply reply) {
  if (!effectiveCluster(cluster)) return reply(404, noCluster(cluster));
  auto state = hostState(cluster, id);
  if (!state || !effectiveHost(cluster, id))
    return reply(404,
                 errorBody("not_found", "no host \"" + id + "\" in cluster \"" + cluster + "\""));
  json j;
  if (!parseBody(body, &j, reply)) return;
  std::optional<AdminState> target;
  if (j.contains("state") && j["state"].is_string())
    target = parseAdminState(j["state"].get<std::string>());
  if (!target)
    return reply(400, errorBody("bad_request", "field \"state\" must be ready, drain or maint"));
  std::optional<config::Duration> deadline;
  if (j.contains("deadline")) {
    if (j["deadline"].is_string())
      deadline = config::parseDuration(j["deadline"].get<std::string>());
    if (!deadline)
      return reply(
          400, errorBody("bad_request", "field \"deadline\" must be a duration such as \"30s\""));
  }
  for (const auto& [k, v] : j.items())
    if (k != "state" && k != "deadline")
      return reply(400, errorBody("bad_request", "unknown field \"" + k + "\""));
  if (deadline && *target != AdminState::kDrain)
    return reply(400, errorBody("bad_request", "\"deadline\" applies to state drain only"));

  setAdminState(*state, *target);
  saveState();
  if (deadline) {
    HostRuntime& rt = runtime(*state);
    rt.drain_timer = std::make_unique<common::Timer>(loop_, [this, state] {
      if (state->admin.load() != AdminState::kDrain) return;
      std::fprintf(stderr, "lbproxy: drain deadline of %s/%s passed; closing its requests\n",
                   state->cluster.c_str(), state->id.c_str());
      forEachWorker([state](worker::Worker& w,
                            std::function<void()> ack) { w.abortHost(state, std::move(ack)); },
                    [] {});
    });
    rt.drain_timer->start(*deadline);
  }
  // Answer once every worker has seen the change and dropped idle connections to the host:
  // from then on no new request can reach it.
  forEachWorker(
      [target, state](worker::Worker& w, std::function<void()> ack) {
        if (*target == AdminState::kReady)
          w.closeIdle(nullptr, std::move(ack));
        else
          w.closeIdle(state, std::move(ack));
      },
      [this, cluster, id, reply] { answerHost(cluster, id, 200, reply); });
}

void Controller::setWeight(const std::string& cluster, const std::string& id,
                           const std::string& body, Reply reply) {
  if (!effectiveCluster(cluster)) return reply(404, noCluster(cluster));
  auto state = hostState(cluster, id);
  if (!state || !effectiveHost(cluster, id))
    return reply(404,
                 errorBody("not_found", "no host \"" + id + "\" in cluster \"" + cluster + "\""));
  json j;
  if (!parseBody(body, &j, reply)) return;
  if (!j.contains("weight") || !validWeight(j["weight"])) return reply(400, weightError());
  for (const auto& [k, v] : j.items())
    if (k != "weight") return reply(400, errorBody("bad_request", "unknown field \"" + k + "\""));
  overlay_.overrides[cluster][id].weight = j["weight"].get<uint32_t>();
  std::string error;
  // Rebuilt so ring_hash rings follow the new weight too.
  bool ok = publish(
      file_, [this, cluster, id, reply] { answerHost(cluster, id, 200, reply); }, &error);
  if (!ok) return reply(500, errorBody("internal", error));
  saveState();
}

void Controller::stats(uint32_t window_s, Reply reply) {
  collectReports(window_s, [this, window_s, reply](std::vector<worker::WorkerReport> reports) {
    auto render = [window_s](const stats::Report& r) {
      json responses = json::object();
      for (size_t i = 0; i < stats::kStatusClasses; ++i)
        responses[stats::statusClassName(i)] = r.window.responses[i];
      json errors = json::object();
      for (size_t i = 0; i < stats::kUpstreamReasons; ++i)
        errors[stats::upstreamReasonName(i)] = r.window.upstream_errors[i];
      const auto& h = r.window_latency;
      double mean = r.window.requests ? r.window.latency_sum_seconds * 1000.0 /
                                            static_cast<double>(r.window.requests)
                                      : 0;
      uint64_t errors5xx = r.window.responses[4];
      return json{{"requests", r.window.requests},
                  {"rps", static_cast<double>(r.window.requests) / window_s},
                  {"responses", responses},
                  {"error_rate", r.window.requests ? static_cast<double>(errors5xx) /
                                                         static_cast<double>(r.window.requests)
                                                   : 0.0},
                  {"upstream_errors", errors},
                  {"retries", r.window.retries},
                  {"latency_ms",
                   {{"mean", mean},
                    {"p50", h.quantile(0.50) / 1000.0},
                    {"p95", h.quantile(0.95) / 1000.0},
                    {"p99", h.quantile(0.99) / 1000.0}}}};
    };
    std::map<std::string, const config::RouteConfig*> route_configs;
    for (const auto& l : file_.listeners)
      for (const auto& r : l.routes) route_configs[r.name] = &r;
    json routes = json::object();
    for (const auto& name : snapshot_->routes) {
      stats::Report merged;
      for (const auto& wr : reports)
        if (auto it = wr.routes.find(name); it != wr.routes.end()) merged.merge(it->second);
      json rj = render(merged);
      if (auto it = route_configs.find(name); it != route_configs.end()) {
        // The route's cluster and objectives: what a deploy's analysis judges a version by.
        const config::SloConfig& slo = it->second->slo;
        rj["cluster"] = it->second->cluster;
        json sj = json::object();
        if (slo.mean.count()) sj["mean_ms"] = slo.mean.count();
        if (slo.p95.count()) sj["p95_ms"] = slo.p95.count();
        if (slo.p99.count()) sj["p99_ms"] = slo.p99.count();
        if (slo.max_error_rate > 0) sj["max_error_rate"] = slo.max_error_rate;
        rj["slo"] = sj;
      }
      routes[name] = rj;
    }
    json clusters = json::object();
    for (const auto& c : snapshot_->clusters) {
      json hosts = json::object();
      for (const auto& h : c.hosts) {
        stats::Report merged;
        uint64_t active = 0;
        for (const auto& wr : reports)
          if (auto it = wr.hosts.find(h.get()); it != wr.hosts.end()) {
            merged.merge(it->second.report);
            active += it->second.active_requests;
          }
        json hj = render(merged);
        hj["active_requests"] = active;
        hosts[h->id] = hj;
      }
      clusters[c.config.name] = hosts;
    }
    reply(200, {{"window_seconds", window_s}, {"routes", routes}, {"clusters", clusters}});
  });
}

void Controller::metrics(std::function<void(const MetricsInput&)> done) {
  collectReports(0, [this, done](std::vector<worker::WorkerReport> reports) {
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
  if (r == health::CheckResult::kPass) {
    ++rt.passes;
    rt.failures = 0;
    if (before != Health::kHealthy && rt.passes >= c->health_check.healthy_threshold)
      host->health.store(Health::kHealthy);
  } else {
    ++rt.failures;
    rt.passes = 0;
    if (before != Health::kUnhealthy && rt.failures >= c->health_check.unhealthy_threshold)
      host->health.store(Health::kUnhealthy);
  }
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
  size_t total = c->hosts.size(), ejected = 0;
  for (const auto& h : c->hosts)
    if (auto s = hostState(c->name, h.id); s && s->ejected.load()) ++ejected;
  if ((ejected + 1) * 100 > od.max_ejection_percent * total) {
    // Every failure of a host that stays over the threshold reports again: log once a minute.
    HostRuntime& capped = runtime(*host);
    const int64_t now = upstream::steadyMillis();
    if (capped.cap_logged_ms != 0 && now - capped.cap_logged_ms < 60000) return;
    capped.cap_logged_ms = now;
    std::fprintf(stderr,
                 "lbproxy: host %s/%s crossed the outlier threshold, but ejecting it would pass "
                 "max_ejection_percent (%u%%)\n",
                 host->cluster.c_str(), host->id.c_str(), od.max_ejection_percent);
    return;
  }
  HostRuntime& rt = runtime(*host);
  ++rt.ejections;
  auto duration = std::min(od.base_ejection_time * rt.ejections, od.max_ejection_time);
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
