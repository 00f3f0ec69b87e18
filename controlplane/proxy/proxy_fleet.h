// lbcontrol's view of and hands on the proxies: every call goes to each proxy's admin API
// (docs/admin-api.md, through client/admin_client.h) for the configured cluster. Blocking
// calls with short timeouts: the rollout engine makes them on its round thread (round.h),
// never on its own.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "client/admin_client.h"
#include "config/control_model.h"

namespace lb::controlplane {

// One host as one proxy reports it.
struct HostView {
  std::string state;   // ready | drain | maint
  std::string health;  // healthy | unhealthy | checking
  bool usable = false;
  bool ejected = false;  // by passive outlier detection
  bool drained = false;
  uint64_t active_requests = 0;
};

// What every proxy says about the cluster's hosts: id -> one view per proxy that has it.
struct FleetView {
  std::map<std::string, std::vector<HostView>> hosts;
  std::vector<std::string> errors;  // proxies that could not be asked, and why
  size_t proxies = 0;
  bool complete() const { return errors.empty(); }
  // The host is on every proxy and every one agrees with pred.
  template <typename Pred>
  bool all(const std::string& id, Pred pred) const {
    auto it = hosts.find(id);
    if (it == hosts.end() || it->second.size() != proxies) return false;
    for (const auto& v : it->second)
      if (!pred(v)) return false;
    return true;
  }
  bool absentEverywhere(const std::string& id) const {
    return complete() && hosts.find(id) == hosts.end();
  }
};

// Traffic of one host summed over the proxies, over one stats window.
struct HostTraffic {
  uint64_t requests = 0;
  uint64_t errors = 0;  // 5xx + upstream errors
  double p99_ms = 0;    // the worst proxy's
};

struct TrafficView {
  std::map<std::string, HostTraffic> hosts;
  double slo_p99_ms = 0;  // the largest routes[].slo.p99 of routes to the cluster; 0 = none
  std::vector<std::string> errors;
};

// What failed on one proxy.
struct ProxyFailure {
  std::string proxy;  // its admin URL as configured
  int status = 0;     // the HTTP answer; 0 when it did not answer
  std::string message;
  std::string text() const;  // "http://127.0.0.1:9901: HTTP 409 host exists"
};
using ProxyFailures = std::vector<ProxyFailure>;      // empty: every proxy did it
std::string describe(const ProxyFailures& failures);  // "; "-joined texts

// One change to the cluster's host list, made on every proxy.
struct FleetAction {
  enum class Kind {
    kAdd,     // POST the host (id, address, labels) in state drain; one already there counts
    kReady,   // PUT state ready
    kDrain,   // PUT state drain, with drain_deadline_ms when set
    kRemove,  // DELETE; a proxy without it counts as done
  };
  Kind kind = Kind::kDrain;
  std::string id;
  std::string address;
  std::map<std::string, std::string> labels;
  std::optional<uint32_t> drain_deadline_ms;
  bool operator==(const FleetAction&) const = default;
};

// Immutable after construction: every method is const and may run on any thread. Each call
// asks every proxy in parallel (one thread per proxy), each with a 3 s timeout, so a call
// takes as long as the slowest proxy, never the sum.
class ProxyFleet {
 public:
  explicit ProxyFleet(const config::ControlConfig& cfg);
  // Token files that cannot be read (a start-up error).
  const std::vector<std::string>& setupErrors() const { return setup_errors_; }

  FleetView observe() const;
  TrafficView traffic(uint32_t window_s) const;
  ProxyFailures apply(const FleetAction& action) const;

 private:
  struct Endpoint {
    std::string name;  // the admin URL as configured
    client::AdminClient admin;
  };
  // fn(endpoint) on every proxy at once; results in the order of the endpoints.
  template <typename T, typename Fn>
  std::vector<T> onEveryProxy(Fn fn) const;

  std::string cluster_;
  std::vector<Endpoint> endpoints_;
  std::vector<std::string> setup_errors_;
};

}  // namespace lb::controlplane
