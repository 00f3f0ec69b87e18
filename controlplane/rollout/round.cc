#include "controlplane/rollout/round.h"

#include <future>

#include "common/http_client.h"

namespace lb::controlplane {

namespace {

constexpr std::chrono::milliseconds kProbeTimeout{1000};

ProbeResult probe(const Probe& p, const std::string& path) {
  common::HttpCall c;
  c.address = p.address;
  c.target = path;
  c.timeout = kProbeTimeout;
  common::HttpResult r = common::httpCall(c);
  if (r.answered() && r.status >= 200 && r.status < 400) return {true, ""};
  return {false, r.answered() ? "HTTP " + std::to_string(r.status) : r.error};
}

}  // namespace

RoundRunner::RoundRunner(const ProxyFleet& fleet, std::string probe_path,
                         common::EventLoop& engine_loop)
    : fleet_(fleet),
      probe_path_(std::move(probe_path)),
      engine_loop_(engine_loop),
      thread_([this] { loop_.run(); }) {}

RoundRunner::~RoundRunner() {
  loop_.stop();
  thread_.join();
}

void RoundRunner::run(RoundRequest request, std::function<void(RoundResult)> done) {
  loop_.post([this, request = std::move(request), done = std::move(done)]() mutable {
    RoundResult result = runNow(fleet_, probe_path_, request);
    engine_loop_.post([done = std::move(done), result = std::move(result)]() mutable {
      done(std::move(result));
    });
  });
}

RoundResult RoundRunner::runNow(const ProxyFleet& fleet, const std::string& probe_path,
                                const RoundRequest& request) {
  RoundResult out;
  // The actions first, in order: the view that follows sees them.
  for (const auto& a : request.actions) {
    ProxyFailures failures = fleet.apply(a);
    if (!failures.empty()) out.action_failures[a.id] = describe(failures);
  }
  std::vector<std::future<ProbeResult>> probes;
  for (const auto& p : request.probes)
    probes.push_back(
        std::async(std::launch::async, [&p, &probe_path] { return probe(p, probe_path); }));
  std::future<TrafficView> traffic;
  if (request.traffic_window_s)
    traffic = std::async(std::launch::async,
                         [&fleet, w = *request.traffic_window_s] { return fleet.traffic(w); });
  out.fleet = fleet.observe();
  for (size_t k = 0; k < probes.size(); ++k) out.probes[request.probes[k].id] = probes[k].get();
  if (traffic.valid()) out.traffic = traffic.get();
  return out;
}

}  // namespace lb::controlplane
