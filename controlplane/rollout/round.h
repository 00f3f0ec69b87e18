// The I/O of one engine tick, off the engine's thread: the fleet actions the last step asked
// for (in order, each on every proxy at once), then, all in parallel, every proxy's view of the
// cluster, the direct health probes and the stats for the analysis. Each call has a timeout
// (3 s to a proxy, 1 s to an instance), so a round lasts as long as its slowest call and the
// engine's loop never waits on the network: API calls are answered while a proxy hangs.
//
// Threading: RoundRunner owns one thread with its own loop. run() is called on the engine's
// thread and `done` is posted back to the engine's loop; one round at a time.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/event_loop.h"
#include "controlplane/proxy/proxy_fleet.h"
#include "controlplane/rollout/step.h"

namespace lb::controlplane {

struct RoundRequest {
  std::vector<FleetAction> actions;
  std::vector<Probe> probes;
  std::optional<uint32_t> traffic_window_s;
};

struct RoundResult {
  std::map<std::string, std::string> action_failures;  // host id -> what failed (describe())
  FleetView fleet;
  std::map<std::string, ProbeResult> probes;
  std::optional<TrafficView> traffic;
};

class RoundRunner {
 public:
  // `fleet` must outlive the runner; `probe_path` is rollout.health_gate.path.
  RoundRunner(const ProxyFleet& fleet, std::string probe_path, common::EventLoop& engine_loop);
  ~RoundRunner();  // waits for a round in progress to end (at most its slowest timeout)
  RoundRunner(const RoundRunner&) = delete;
  RoundRunner& operator=(const RoundRunner&) = delete;

  // Engine thread.
  void run(RoundRequest request, std::function<void(RoundResult)> done);

  // Any thread: the round itself, blocking (what the round thread runs).
  static RoundResult runNow(const ProxyFleet& fleet, const std::string& probe_path,
                            const RoundRequest& request);

 private:
  const ProxyFleet& fleet_;
  std::string probe_path_;
  common::EventLoop& engine_loop_;
  common::EventLoop loop_;
  std::thread thread_;
};

}  // namespace lb::controlplane
