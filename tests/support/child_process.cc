#include "tests/support/child_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace lb::test {

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exit_code_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (reader_.joinable()) reader_.join();
}

bool ChildProcess::start(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe(fds) != 0) return false;
  pid_ = ::fork();
  if (pid_ < 0) return false;
  if (pid_ == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  reader_ = std::thread([this, fd = fds[0]] { readLoop(fd); });
  return true;
}

void ChildProcess::readLoop(int fd) {
  std::string partial;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    partial.append(buf, static_cast<size_t>(n));
    std::vector<std::string> complete;
    size_t start = 0;
    for (size_t nl; (nl = partial.find('\n', start)) != std::string::npos; start = nl + 1)
      complete.push_back(partial.substr(start, nl - start));
    partial.erase(0, start);
    if (!complete.empty()) {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& l : complete) lines_.push_back(std::move(l));
      cv_.notify_all();
    }
  }
  ::close(fd);
  std::lock_guard<std::mutex> lock(mu_);
  if (!partial.empty()) lines_.push_back(partial);
  eof_ = true;
  cv_.notify_all();
}

std::optional<std::string> ChildProcess::waitForLine(const std::string& needle,
                                                     std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  size_t checked = 0;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    for (; checked < lines_.size(); ++checked)
      if (lines_[checked].find(needle) != std::string::npos) return lines_[checked];
    if (eof_) return std::nullopt;
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      for (; checked < lines_.size(); ++checked)
        if (lines_[checked].find(needle) != std::string::npos) return lines_[checked];
      return std::nullopt;
    }
  }
}

std::vector<std::string> ChildProcess::lines() {
  std::lock_guard<std::mutex> lock(mu_);
  return lines_;
}

std::string ChildProcess::output() {
  std::string out;
  for (const auto& l : lines()) out += l + "\n";
  return out;
}

void ChildProcess::signal(int sig) {
  if (pid_ > 0 && !exit_code_) ::kill(pid_, sig);
}

std::optional<int> ChildProcess::waitExit(std::chrono::milliseconds timeout) {
  if (exit_code_) return exit_code_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      if (reader_.joinable()) reader_.join();
      return exit_code_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    ::usleep(5000);
  }
}

bool ChildProcess::running() { return !waitExit(std::chrono::milliseconds(0)); }

namespace {
long statusField(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      std::istringstream fields(line.substr(field.size() + 1));
      long kib = -1;
      fields >> kib;
      return kib;
    }
  }
  return -1;
}
}  // namespace

long ChildProcess::rssKiB() const { return statusField(pid_, "VmRSS"); }
long ChildProcess::peakRssKiB() const { return statusField(pid_, "VmHWM"); }

int runToExit(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
              std::string* output) {
  ChildProcess child;
  if (!child.start(argv)) return -1;
  auto code = child.waitExit(timeout);
  if (output) *output = child.output();
  return code ? *code : -1;
}

}  // namespace lb::test
