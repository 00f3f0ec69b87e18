// How lbcontrol starts and stops an instance of a version (config: instances.driver): the
// interface the rollout engine uses; the drivers themselves are in controlplane/driver/. Called
// only on the rollout engine's thread; calls return quickly (the exec driver's commands are
// bounded by command_timeout).
#pragma once

#include <memory>
#include <string>

#include "config/control_model.h"
#include "controlplane/model/instance.h"

namespace lb::controlplane {

struct StartResult {
  bool ok = false;
  std::string address;  // "IP:PORT" the instance serves on
  int pid = 0;          // process driver only
  std::string error;
};

enum class Liveness { kRunning, kExited, kUnknown };

class Driver {
 public:
  virtual ~Driver() = default;
  // Launches `inst` (id, version and port set). Does not wait for it to be healthy.
  virtual StartResult start(const Instance& inst) = 0;
  // Asks it to stop; may be called again until liveness() says kExited.
  virtual void stop(const Instance& inst) = 0;
  // kExited fills *why ("exit status 1", "killed by signal 9").
  virtual Liveness liveness(const Instance& inst, std::string* why) = 0;
  // Each engine tick: reap children, escalate overdue stops.
  virtual void poll() {}
  // The pid a previous lbcontrol recorded for an instance before it died (0: none, or a driver
  // that keeps no pids): how a restarted lbcontrol re-adopts what it started.
  virtual int recordedPid(const std::string& id) const { return 0; }
};

}  // namespace lb::controlplane
