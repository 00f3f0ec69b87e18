// A real child process for integration tests: started with fork/exec, its stdout and stderr
// collected line by line by a reader thread so tests can wait for "ready" lines and read
// access-log lines. Test code only (it uses a mutex; the product does not).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace lb::test {

class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();  // SIGKILLs a child still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool start(const std::vector<std::string>& argv);

  // Waits until a line containing `needle` has been printed; returns it.
  std::optional<std::string> waitForLine(const std::string& needle,
                                         std::chrono::milliseconds timeout);
  std::vector<std::string> lines();
  std::string output();  // all lines joined, for failure messages

  void signal(int sig);
  // Waits for the child to exit; returns its exit code (128+signal when killed by one).
  std::optional<int> waitExit(std::chrono::milliseconds timeout);
  bool running();

  pid_t pid() const { return pid_; }
  // From /proc/PID/status, in KiB: current resident set and its peak so far.
  long rssKiB() const;
  long peakRssKiB() const;

 private:
  void readLoop(int fd);

  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
  bool eof_ = false;
};

// Runs `argv` to its end: its exit code (-1 when it could not start or outlived `timeout`),
// and all it printed in `output` when that is not null.
int runToExit(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
              std::string* output);

}  // namespace lb::test
