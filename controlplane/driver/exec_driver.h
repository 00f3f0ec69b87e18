// The exec driver: user commands start, stop and locate instances (systemd, ssh, Docker, ...).
// `start` gets {version} {instance} {port} {host}; the instance's IP:PORT is the last line of
// `address`'s output, or of `start`'s when there is no `address` command. Liveness is not known
// to it: the proxies' health checks and the rollout's health gate stand in. Engine thread only;
// each call blocks for at most command_timeout.
#pragma once

#include <map>
#include <string>

#include "controlplane/model/driver.h"

namespace lb::controlplane {

class ExecDriver : public Driver {
 public:
  explicit ExecDriver(const config::DriverConfig& cfg) : cfg_(cfg) {}
  StartResult start(const Instance& inst) override;
  void stop(const Instance& inst) override;
  Liveness liveness(const Instance& inst, std::string* why) override;

 private:
  config::DriverConfig cfg_;
  std::map<std::string, bool> stopped_;  // instance id -> its stop command succeeded
};

}  // namespace lb::controlplane
