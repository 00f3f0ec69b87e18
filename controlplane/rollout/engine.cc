#include "controlplane/rollout/engine.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "config/values.h"

namespace lb::controlplane {

using nlohmann::json;

namespace {

constexpr std::chrono::milliseconds kRoundInterval{200};

bool portBindable(const std::string& host, uint16_t port) {
  auto hp = config::parseHostPort(
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port),
      false);
  if (!hp) return false;
  int fd = socket(hp->ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  bool ok;
  if (hp->ipv6) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    inet_pton(AF_INET6, hp->host.c_str(), &a.sin6_addr);
    ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, hp->host.c_str(), &a.sin_addr);
    ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  close(fd);
  return ok;
}

}  // namespace

Engine::Engine(const config::ControlConfig& cfg, common::EventLoop& loop,
               std::unique_ptr<Driver> driver)
    : cfg_(cfg),
      loop_(loop),
      timer_(loop, [this] { onTimer(); }),
      driver_(std::move(driver)),
      fleet_(cfg),
      journal_(cfg.state_dir),
      rounds_(fleet_, cfg.rollout.health_gate.path, loop) {}

Engine::~Engine() = default;

bool Engine::start(std::string* error) {
  if (!fleet_.setupErrors().empty()) {
    *error = fleet_.setupErrors()[0];
    return false;
  }
  if (!journal_.open(&state_, error)) return false;
  // A start that was journaled but whose pid was not: the child wrote its pid file first.
  for (auto& inst : state_.instances) {
    if (inst.phase != Phase::kStarting || inst.pid != 0) continue;
    if (int pid = driver_->recordedPid(inst.id)) inst.pid = pid;
  }
  if ((!state_.rollout || !state_.rollout->active()) && state_.current_version.empty() &&
      !cfg_.instances.initial_version.empty()) {
    Actions out;
    out.audit.push_back(openRollout(cfg_, state_, memory_, cfg_.instances.initial_version,
                                    RolloutKind::kInitial, "lbcontrol", "instances.initial_version",
                                    nowMs()));
    carryOut(out);
  }
  commit();
  timer_.start(std::chrono::milliseconds(0));
  return true;
}

void Engine::commit() {
  std::string text = toJson(state_).dump();
  if (text == last_saved_) return;
  std::string err;
  if (!journal_.save(state_, &err)) {
    std::fprintf(stderr, "lbcontrol: journal: %s\n", err.c_str());
    return;
  }
  last_saved_ = std::move(text);
}

void Engine::onTimer() {
  if (!round_out_) startRound();
}

void Engine::startRound() {
  round_out_ = true;
  RoundRequest request = std::move(next_round_);
  next_round_ = {};
  rounds_.run(std::move(request), [this](RoundResult r) { onRound(std::move(r)); });
}

void Engine::onRound(RoundResult result) {
  round_out_ = false;
  driver_->poll();
  Observation obs;
  obs.now_ms = nowMs();
  obs.fleet = std::move(result.fleet);
  obs.probes = std::move(result.probes);
  obs.traffic = std::move(result.traffic);
  obs.fleet_failures = std::move(result.action_failures);
  obs.start_failures = std::exchange(start_failures_, {});
  for (const auto& inst : state_.instances) {
    if (inst.phase == Phase::kStopped) continue;
    InstanceLiveness& l = obs.liveness[inst.id];
    l.liveness = driver_->liveness(inst, &l.why);
  }
  last_view_ = obs.fleet;
  Actions actions = step(cfg_, obs, state_, memory_);
  carryOut(actions);
  // Fleet actions go out at once (a failed instance leaves traffic now), but not in two rounds
  // running: a proxy that refuses an action every time gets it five times a second, no more.
  const bool immediate = !next_round_.actions.empty() && !last_round_immediate_;
  last_round_immediate_ = immediate;
  if (immediate)
    startRound();
  else
    timer_.start(kRoundInterval);
}

void Engine::carryOut(Actions& a) {
  commit();  // the decisions first: a restart must know what may have happened
  for (const auto& e : a.audit) journal_.audit(e.who, e.action, e.target, e.reason, e.result);
  for (const auto& line : a.log) std::fprintf(stderr, "lbcontrol: %s\n", line.c_str());
  for (const auto& id : a.stop)
    if (Instance* i = state_.find(id)) driver_->stop(*i);
  for (const auto& id : a.start) startInstance(id);
  for (auto& f : a.fleet) next_round_.actions.push_back(std::move(f));
  next_round_.probes = std::move(a.probes);
  if (a.traffic_window_s) next_round_.traffic_window_s = a.traffic_window_s;
}

uint16_t Engine::pickPort() const {
  const auto& d = cfg_.instances.driver;
  for (uint32_t port = d.port_min; port != 0 && port <= d.port_max; ++port) {
    bool used = std::any_of(
        state_.instances.begin(), state_.instances.end(),
        [&](const Instance& i) { return i.port == port && i.phase != Phase::kStopped; });
    if (!used && portBindable(d.host, static_cast<uint16_t>(port)))
      return static_cast<uint16_t>(port);
  }
  return 0;
}

void Engine::startInstance(const std::string& id) {
  Instance* inst = state_.find(id);
  if (!inst || inst->phase != Phase::kStarting) return;
  inst->port = pickPort();
  if (cfg_.instances.driver.kind == config::DriverKind::kProcess && inst->port == 0) {
    start_failures_[id] = "no free port in instances.driver.ports";
    return;
  }
  commit();  // the port too: a restart must not give it to another instance
  StartResult res = driver_->start(*inst);
  inst = state_.find(id);
  inst->pid = res.pid;
  inst->address = res.address;
  commit();
  if (!res.ok) {
    start_failures_[id] = res.error;
    return;
  }
  std::fprintf(stderr, "lbcontrol: started %s (version %s) on %s\n", id.c_str(),
               inst->version.c_str(), res.address.c_str());
}

}  // namespace lb::controlplane
