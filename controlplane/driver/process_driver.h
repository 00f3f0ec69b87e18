// The process driver: instances are processes on this machine, started from a command template
// by /bin/sh in their own session (they outlive lbcontrol: production does not stop when the
// control plane restarts). Output goes to <log_dir>/<instance>.log. Before exec, the child writes
// <state_dir>/pids/<instance>.pid, so a SIGKILLed lbcontrol finds every process it started,
// and sets LBCONTROL_INSTANCE=<instance> in its environment, which guards re-adoption against a
// recycled pid. Stop: SIGTERM to the process group, SIGKILL after stop_grace.
// Engine thread only.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "controlplane/model/driver.h"

namespace lb::controlplane {

class ProcessDriver : public Driver {
 public:
  ProcessDriver(const config::DriverConfig& cfg, const std::string& state_dir);
  StartResult start(const Instance& inst) override;
  void stop(const Instance& inst) override;
  Liveness liveness(const Instance& inst, std::string* why) override;
  void poll() override;

  std::string pidFile(const std::string& id) const;
  int recordedPid(const std::string& id) const override;

 private:
  bool isOurs(int pid, const std::string& id) const;

  config::DriverConfig cfg_;
  std::string pid_dir_;
  std::string log_dir_;
  std::map<int, std::string> children_;  // pid -> exit text once reaped ("")
  std::map<int, std::chrono::steady_clock::time_point> kill_at_;  // pending SIGKILLs
};

}  // namespace lb::controlplane
