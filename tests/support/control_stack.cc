#include "tests/support/control_stack.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>

#include "tests/support/admin_client.h"
#include "tests/support/configs.h"
#include "tests/support/test_client.h"
#include "tests/support/test_util.h"

namespace lb::test {

using namespace std::chrono_literals;
using nlohmann::json;

ControlStack::ControlStack(StackOptions opt) : opt_(std::move(opt)) {
  TestConfig cfg;
  cfg.workers = 2;
  cfg.access_log = "access_log: { enabled: false }\n";
  if (!opt_.slo_p99.empty())
    cfg.routes =
        "      - match: { path_prefix: / }\n        cluster: app\n        timeout: 5s\n"
        "        slo: { p99: " +
        opt_.slo_p99 + " }\n";
  cfg.cluster_extra =
      "    health_check: { path: /actuator/health, interval: 200ms, timeout: 200ms, "
      "healthy_threshold: 2, unhealthy_threshold: 2 }\n"
      "    outlier_detection: { consecutive_5xx: 5, base_ejection_time: 30s }\n";
  for (int n = 0; n < opt_.proxies; ++n) {
    proxies_.push_back(std::make_unique<ProxyProcess>(cfg.yaml()));
    if (!proxies_.back()->ok()) {
      why_ = "lbproxy did not start: " + proxies_.back()->process().output();
      return;
    }
  }
  state_dir_ = dir_.path() + "/state";
  // Each test process gets its own port range: ctest runs several at once.
  const int base = 21000 + static_cast<int>(getpid() % 400) * 20;
  std::ostringstream y;
  if (!opt_.tokens.empty())
    y << "auth: { tokens_file: " << dir_.write("tokens", opt_.tokens) << " }\n";
  y << "listen: 127.0.0.1:0\n"
    << "state_dir: " << state_dir_ << "\n"
    << "cluster: app\n"
    << "proxies:\n";
  for (int n = 0; n < opt_.proxies; ++n) y << "  - admin: " << proxyAdminUrl(n) << "\n";
  for (const auto& url : opt_.extra_admins) y << "  - admin: " << url << "\n";
  y << "instances:\n"
    << "  count: " << opt_.count << "\n"
    << "  id_prefix: app\n"
    << "  initial_version: \"" << opt_.initial_version << "\"\n"
    << "  driver:\n";
  const std::string instance = demoInstanceBinary() +
                               " --host {host} --port {port} --instance {instance} "
                               "--version {version} --latency-scale 0";
  if (opt_.exec_driver) {
    // What a team would write around its own tooling: start in the background, record the pid,
    // print the address; stop by pid.
    y << "    kind: exec\n"
      << "    start: \"" << instance << " >/dev/null 2>&1 & echo $! > " << state_dir_
      << "/pids/{instance}.pid; echo {host}:{port}\"\n"
      << "    stop: \"kill $(cat " << state_dir_ << "/pids/{instance}.pid)\"\n";
  } else {
    y << "    kind: process\n"
      << "    command: " << instance << "\n"
      << "    stop_grace: 3s\n";
  }
  y << "    ports: " << base << "-" << base + 19 << "\n"
    << "rollout:\n"
    << "  max_surge: 1\n"
    << "  max_unavailable: 0\n"
    << "  health_gate: { path: /actuator/health, checks: 2, min_healthy_time: "
    << opt_.min_healthy_time << ", deadline: " << opt_.gate_deadline << " }\n"
    << "  drain_timeout: 10s\n"
    << "  bake_time: " << opt_.bake_time << "\n"
    << "  watch_window: " << opt_.watch_window << "\n"
    << "  analysis: { interval: 1s, min_requests: 20, max_error_rate: 0.01, failing_intervals: 2 "
       "}\n"
    << "  approval: " << opt_.approval << "\n";
  control_config_ = dir_.write("lbcontrol.yaml", y.str());
  if (opt_.exec_driver) {
    mkdir(state_dir_.c_str(), 0755);
    mkdir((state_dir_ + "/pids").c_str(), 0755);
  }
  ok_ = startControl();
}

ControlStack::~ControlStack() {
  // A clean exit on SIGTERM, so a sanitizer report or leak inside lbcontrol fails the test.
  if (control_ && control_->running()) {
    control_->signal(SIGTERM);
    auto code = control_->waitExit(15s);
    EXPECT_EQ(code, std::optional<int>(0)) << "lbcontrol did not exit cleanly:\n"
                                           << control_->output();
  }
  // lbcontrol never stops the application on exit; the test does. The process driver makes
  // each instance a process group; the exec driver's shell does not, so the pid too.
  auto killAll = [&](int sig) {
    for (int pid : livePids()) {
      kill(-pid, sig);
      kill(pid, sig);
    }
  };
  killAll(SIGTERM);
  waitUntil([&] { return livePids().empty(); }, 5s);
  killAll(SIGKILL);
}

bool ControlStack::startControl() {
  control_ = std::make_unique<ChildProcess>();
  if (!control_->start({LB_CONTROL_BIN, "-c", control_config_})) {
    why_ = "cannot run lbcontrol";
    return false;
  }
  auto line = control_->waitForLine("lbcontrol: api on", 15s);
  if (!line) {
    why_ = "lbcontrol did not start: " + control_->output();
    return false;
  }
  control_port_ = static_cast<uint16_t>(std::stoi(line->substr(line->rfind(' ') + 1)));
  return true;
}

void ControlStack::killControl() {
  control_->signal(SIGKILL);
  control_->waitExit(10s);
}

int ControlStack::lbctl(const std::vector<std::string>& args, std::string* output,
                        std::chrono::seconds timeout) {
  std::vector<std::string> argv{LB_CTL_BIN, "--control", controlUrl(), "--proxy", proxyAdminUrl()};
  argv.insert(argv.end(), args.begin(), args.end());
  return runToExit(argv, timeout, output);
}

json ControlStack::api(const std::string& path) {
  AdminResponse r = AdminClient(control_port_).get(path);
  return r.status == 200 ? r.body : json(nullptr);
}

json ControlStack::proxyHosts(int n) {
  AdminResponse r = AdminClient(proxies_[n]->adminPort()).get("/v1/clusters/app");
  return r.status == 200 ? r.body["hosts"] : json::array();
}

bool ControlStack::waitForRelease(const std::string& version, std::chrono::seconds timeout) {
  return waitUntil(
      [&] {
        json s = api("/v1/status");
        if (s.is_null() || s["current_version"] != version) return false;
        if (s["rollout"].is_object() && s["rollout"]["status"] != "succeeded" &&
            s["rollout"]["status"] != "rolled_back" && s["rollout"]["status"] != "aborted")
          return false;
        uint32_t serving = 0;
        for (const auto& i : s["instances"])
          if (i["version"] == version && i["phase"] == "serving") ++serving;
        return serving == opt_.count && s["instances"].size() == opt_.count;
      },
      timeout);
}

std::vector<int> ControlStack::livePids() {
  std::vector<int> pids;
  for (int slot = 1; slot < 200; ++slot) {
    std::ifstream in(state_dir_ + "/pids/app-" + std::to_string(slot) + ".pid");
    int pid = 0;
    if (in >> pid && pid > 0 && kill(pid, 0) == 0) {
      // A zombie is not running (lbcontrol was killed before it reaped it).
      std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
      std::string text;
      std::getline(stat, text);
      size_t close = text.rfind(')');
      if (close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'Z') continue;
      pids.push_back(pid);
    }
  }
  return pids;
}

LoadGenerator::LoadGenerator(uint16_t port, int clients, int rate_per_client) : port_(port) {
  started_ = std::chrono::steady_clock::now();
  for (int i = 0; i < clients; ++i)
    threads_.emplace_back([this, rate_per_client] { run(rate_per_client); });
}

LoadGenerator::~LoadGenerator() { stop(); }

void LoadGenerator::stop() {
  if (stop_.exchange(true)) return;
  for (auto& t : threads_) t.join();
  stopped_ = std::chrono::steady_clock::now();
}

void LoadGenerator::run(int rate) {
  const auto gap = std::chrono::microseconds(1000000 / rate);
  auto next = std::chrono::steady_clock::now();
  std::unique_ptr<TestClient> client;
  // Bounded: at most 10 minutes of load, whatever the test does.
  const auto limit = std::chrono::steady_clock::now() + 10min;
  while (!stop_ && std::chrono::steady_clock::now() < limit) {
    if (!client || !client->connected()) client = std::make_unique<TestClient>(port_);
    Answer a{std::chrono::steady_clock::now(), 0, ""};
    if (client->send("GET /api/products HTTP/1.1\r\nHost: shop\r\n\r\n")) {
      auto r = client->read(false, 10s);
      if (r) {
        a.status = r->status;
        if (const std::string* v = r->header("x-app-version")) a.version = *v;
        const std::string* conn = r->header("connection");
        if (conn && iequals(*conn, "close")) client.reset();
      } else {
        client.reset();
      }
    } else {
      client.reset();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      answers_.push_back(a);
    }
    next += gap;
    std::this_thread::sleep_until(next);
  }
}

size_t LoadGenerator::count() {
  std::lock_guard<std::mutex> lock(mu_);
  return answers_.size();
}

bool LoadGenerator::waitForMore(size_t n, std::chrono::seconds timeout) {
  const size_t target = count() + n;
  return waitUntil([&] { return count() >= target; }, timeout);
}

std::vector<LoadGenerator::Answer> LoadGenerator::answers() {
  std::lock_guard<std::mutex> lock(mu_);
  return answers_;
}

uint64_t LoadGenerator::failures() {
  uint64_t n = 0;
  for (const auto& a : answers())
    if (a.status < 200 || a.status >= 300) ++n;
  return n;
}

double LoadGenerator::rate() {
  double seconds = std::chrono::duration<double>(stopped_ - started_).count();
  return seconds > 0 ? static_cast<double>(answers().size()) / seconds : 0;
}

}  // namespace lb::test
