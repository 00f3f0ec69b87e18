// lbcontrol's view of and hands on the proxies: every call goes to each proxy's admin API
// (docs/admin-api.md) for the configured cluster. Blocking calls with short timeouts; engine
// thread only.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

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

class ProxyFleet {
 public:
  explicit ProxyFleet(const config::ControlConfig& cfg);
  // Token files that cannot be read (a start-up error).
  const std::vector<std::string>& setupErrors() const { return setup_errors_; }

  FleetView observe() const;
  TrafficView traffic(uint32_t window_s) const;

  // Each returns "" when every proxy did it, else what failed, proxy by proxy.
  // addHost is idempotent: a host already there (409) counts as added.
  std::string addHost(const std::string& id, const std::string& address,
                      const std::map<std::string, std::string>& labels,
                      const std::string& state) const;
  std::string setState(const std::string& id, const std::string& state,
                       std::optional<uint32_t> deadline_ms = std::nullopt) const;
  // Removes it where it is present; a proxy without it counts as done.
  std::string removeHost(const std::string& id) const;

 private:
  struct Endpoint {
    std::string name;     // the admin URL as configured
    std::string address;  // IP:PORT
    std::string token;
  };
  std::string call(const Endpoint& p, const std::string& method, const std::string& target,
                   const std::string& body, int* status, nlohmann::json* out) const;
  // The same call on every proxy; a status outside `done` is a failure. "" when all succeeded.
  std::string onEveryProxy(const std::string& method, const std::string& target,
                           const std::string& body, std::initializer_list<int> done) const;

  std::string cluster_;
  std::vector<Endpoint> endpoints_;
  std::vector<std::string> setup_errors_;
};

}  // namespace lb::controlplane
