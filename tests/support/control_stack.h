// A whole deploy stack for lbcontrol's end-to-end tests: a real lbproxy, a real lbcontrol whose
// process driver runs real demo-instance processes, lbctl runs, and a paced load of keep-alive
// clients that records every answer. Test code only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/proxy_process.h"

namespace lb::test {

struct StackOptions {
  std::string initial_version = "1.0.0";
  uint32_t count = 3;
  std::string approval = "none";
  std::string min_healthy_time = "300ms";
  std::string gate_deadline = "8s";
  std::string bake_time = "2s";
  std::string watch_window = "2s";
  std::string slo_p99;       // routes[].slo.p99 of the proxy's route; "" = none
  std::string tokens;        // content of auth.tokens_file ("NAME TOKEN" lines); "" = no auth
  int proxies = 1;           // lbproxy processes lbcontrol drives
  bool exec_driver = false;  // start/stop the demo instances with shell commands instead
  std::vector<std::string> extra_admins;  // more proxies' admin URLs (a test's fake proxies)
};

class ControlStack {
 public:
  explicit ControlStack(StackOptions opt = {});
  ~ControlStack();  // stops lbcontrol, then every instance it started

  bool ok() const { return ok_; }
  std::string why() { return why_; }
  uint16_t proxyPort(int n = 0) { return proxies_[n]->port(); }
  std::string controlUrl() const { return "http://127.0.0.1:" + std::to_string(control_port_); }
  std::string proxyAdminUrl(int n = 0) {
    return "http://127.0.0.1:" + std::to_string(proxies_[n]->adminPort());
  }
  const std::string& stateDir() const { return state_dir_; }

  // (Re)starts lbcontrol on the same state directory; false when it does not come up.
  bool startControl();
  void killControl();  // SIGKILL, as a crash would
  ChildProcess& control() { return *control_; }

  uint16_t controlPort() const { return control_port_; }
  // Runs lbctl with --control/--proxy set; returns its exit code and fills *output.
  int lbctl(const std::vector<std::string>& args, std::string* output = nullptr,
            std::chrono::seconds timeout = std::chrono::seconds(180));
  nlohmann::json api(const std::string& path);  // GET on lbcontrol; null on failure
  nlohmann::json proxyHosts(int n = 0);         // that proxy's hosts of cluster app

  // True once `version` is the current release with `count` instances serving it.
  bool waitForRelease(const std::string& version, std::chrono::seconds timeout);
  // Pids of live instance processes (from the process driver's pid files, or the exec
  // driver's, which the test's start command writes).
  std::vector<int> livePids();

 private:
  StackOptions opt_;
  bool ok_ = false;
  std::string why_;
  TempDir dir_;
  std::string state_dir_;
  std::string control_config_;
  std::vector<std::unique_ptr<ProxyProcess>> proxies_;
  std::unique_ptr<ChildProcess> control_;
  uint16_t control_port_ = 0;
};

// Keep-alive clients, each paced to `rate_per_client` requests per second, until stop().
class LoadGenerator {
 public:
  LoadGenerator(uint16_t port, int clients, int rate_per_client);
  ~LoadGenerator();
  void stop();

  struct Answer {
    std::chrono::steady_clock::time_point at;
    int status;  // 0 = no answer
    std::string version;
  };
  std::vector<Answer> answers();  // after stop()
  size_t count();                 // answers so far (any thread)
  // Waits until `n` more answers than now have come (each a real request through the proxy):
  // how a test lets traffic flow for a while without sleeping.
  bool waitForMore(size_t n, std::chrono::seconds timeout = std::chrono::seconds(60));
  uint64_t failures();  // non-2xx or no answer
  double rate();        // answers per second over the run

 private:
  void run(int rate);

  uint16_t port_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::vector<Answer> answers_;
  std::chrono::steady_clock::time_point started_, stopped_;
};

}  // namespace lb::test
