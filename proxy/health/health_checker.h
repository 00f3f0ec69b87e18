// Active health checks: an HTTP GET to every host of every cluster that configures checks,
// each `interval`, on the main thread's loop (never on a worker, so a slow backend cannot
// delay a request), over the cluster's TLS when it has one (same trust, name and client
// certificate as requests). Reports each result; the controller applies the rise/fall
// thresholds.
// Owner: the main thread.
#pragma once

#include <functional>
#include <map>
#include <memory>

#include "common/event_loop.h"
#include "proxy/snapshot/snapshot.h"

namespace lb::health {

enum class CheckResult { kPass, kConnectFailed, kTimeout, kBadStatus, kBadResponse, kTlsFailed };
constexpr size_t kCheckResults = 6;
const char* checkResultName(CheckResult r);

class HealthChecker {
 public:
  using ResultFn =
      std::function<void(const std::shared_ptr<upstream::HostState>& host, CheckResult result)>;

  HealthChecker(common::EventLoop& loop, ResultFn on_result);
  ~HealthChecker();

  // Starts probes for new hosts of clusters with checks (the first one at once), updates the
  // settings of the others, and stops probes of hosts that are gone or no longer checked.
  void sync(const snapshot::Snapshot& snapshot);
  void stop();

 private:
  class Probe;
  common::EventLoop& loop_;
  ResultFn on_result_;
  std::map<const upstream::HostState*, std::unique_ptr<Probe>> probes_;
};

}  // namespace lb::health
