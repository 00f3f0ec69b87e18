#include "controlplane/driver/process_driver.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string_view>
#include <vector>

#include "common/durable_file.h"
#include "controlplane/driver/drivers.h"
#include "controlplane/driver/exec_driver.h"

namespace lb::controlplane {

std::string expandTemplate(const std::string& tmpl, const Instance& inst, const std::string& host) {
  std::string out;
  for (size_t i = 0; i < tmpl.size();) {
    auto take = [&](const char* key, const std::string& value) {
      size_t n = std::strlen(key);
      if (tmpl.compare(i, n, key) != 0) return false;
      out += value;
      i += n;
      return true;
    };
    if (take("{version}", inst.version) || take("{instance}", inst.id) ||
        take("{port}", std::to_string(inst.port)) || take("{host}", host))
      continue;
    out += tmpl[i++];
  }
  return out;
}

std::unique_ptr<Driver> makeDriver(const config::ControlConfig& cfg) {
  if (cfg.instances.driver.kind == config::DriverKind::kExec)
    return std::make_unique<ExecDriver>(cfg.instances.driver);
  return std::make_unique<ProcessDriver>(cfg.instances.driver, cfg.state_dir);
}

namespace {

void makeDirs(const std::string& path) {
  for (size_t i = 1; i <= path.size(); ++i)
    if (i == path.size() || path[i] == '/') mkdir(path.substr(0, i).c_str(), 0755);
}

std::string describeStatus(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "ended";
}

}  // namespace

ProcessDriver::ProcessDriver(const config::DriverConfig& cfg, const std::string& state_dir)
    : cfg_(cfg),
      pid_dir_(state_dir + "/pids"),
      log_dir_(cfg.log_dir.empty() ? state_dir + "/logs" : cfg.log_dir) {
  makeDirs(pid_dir_);
  makeDirs(log_dir_);
}

std::string ProcessDriver::pidFile(const std::string& id) const {
  return pid_dir_ + "/" + id + ".pid";
}

int ProcessDriver::recordedPid(const std::string& id) const {
  std::string text;
  if (!common::readWholeFile(pidFile(id), &text)) return 0;
  return std::atoi(text.c_str());
}

StartResult ProcessDriver::start(const Instance& inst) {
  StartResult r;
  const std::string command = "exec " + expandTemplate(cfg_.command, inst, cfg_.host);
  const std::string log = log_dir_ + "/" + inst.id + ".log";
  const std::string pid_file = pidFile(inst.id);
  // Built before fork: after it, the child of a multi-threaded process may not allocate.
  std::vector<std::string> env_strings{"LBCONTROL_INSTANCE=" + inst.id};
  for (char** e = environ; *e; ++e)
    if (!std::string_view(*e).starts_with("LBCONTROL_INSTANCE=")) env_strings.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const char* argv[] = {"sh", "-c", command.c_str(), nullptr};
  pid_t pid = fork();
  if (pid < 0) {
    r.error = std::string("fork failed: ") + std::strerror(errno);
    return r;
  }
  if (pid == 0) {
    // Only async-signal-safe calls until exec.
    setsid();
    int in = open("/dev/null", O_RDONLY);
    int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0) _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    char digits[16];
    int n = 0;
    for (unsigned v = static_cast<unsigned>(getpid()); v; v /= 10) digits[n++] = char('0' + v % 10);
    char text[17];
    for (int k = 0; k < n; ++k) text[k] = digits[n - 1 - k];
    text[n] = '\n';
    int pf = open(pid_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (pf < 0 || write(pf, text, static_cast<size_t>(n + 1)) != n + 1) _exit(126);
    fsync(pf);
    close(pf);
    execve("/bin/sh", const_cast<char* const*>(argv), envp.data());
    _exit(127);
  }
  children_[pid] = "";
  r.ok = true;
  r.pid = pid;
  r.address = (cfg_.host.find(':') != std::string::npos ? "[" + cfg_.host + "]" : cfg_.host) + ":" +
              std::to_string(inst.port);
  return r;
}

bool ProcessDriver::isOurs(int pid, const std::string& id) const {
  std::string env;
  if (!common::readWholeFile("/proc/" + std::to_string(pid) + "/environ", &env)) return false;
  const std::string want = "LBCONTROL_INSTANCE=" + id;
  for (size_t i = 0; i < env.size();) {
    size_t end = env.find('\0', i);
    if (end == std::string::npos) end = env.size();
    if (env.compare(i, end - i, want) == 0) return true;
    i = end + 1;
  }
  return false;
}

void ProcessDriver::poll() {
  for (auto& [pid, exit_text] : children_) {
    if (!exit_text.empty()) continue;
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) exit_text = describeStatus(status);
  }
  const auto now = std::chrono::steady_clock::now();
  for (auto it = kill_at_.begin(); it != kill_at_.end();) {
    if (now >= it->second) {
      kill(-it->first, SIGKILL);
      it = kill_at_.erase(it);
    } else {
      ++it;
    }
  }
}

Liveness ProcessDriver::liveness(const Instance& inst, std::string* why) {
  if (inst.pid <= 0) {
    *why = "no process";
    return Liveness::kExited;
  }
  if (auto it = children_.find(inst.pid); it != children_.end()) {
    if (it->second.empty()) return Liveness::kRunning;
    *why = it->second;
    return Liveness::kExited;
  }
  // Adopted after a restart: not our child, so check that the pid is still that instance.
  if (kill(inst.pid, 0) == 0 && isOurs(inst.pid, inst.id)) return Liveness::kRunning;
  *why = "process " + std::to_string(inst.pid) + " is gone";
  return Liveness::kExited;
}

void ProcessDriver::stop(const Instance& inst) {
  std::string why;
  if (liveness(inst, &why) != Liveness::kRunning) {
    unlink(pidFile(inst.id).c_str());
    return;
  }
  if (kill_at_.count(inst.pid)) return;  // SIGTERM already sent; SIGKILL is scheduled
  kill(-inst.pid, SIGTERM);
  kill_at_[inst.pid] = std::chrono::steady_clock::now() + cfg_.stop_grace;
}

}  // namespace lb::controlplane
