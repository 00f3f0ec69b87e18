// Running a user command through /bin/sh with a time limit, capturing its output. Used by the
// exec driver. Blocking; any thread.
#pragma once

#include <chrono>
#include <string>

namespace lb::controlplane {

struct CommandResult {
  int exit_code = -1;  // -1 when it did not exit by itself (timed out, killed)
  bool timed_out = false;
  std::string output;  // stdout and stderr, capped at 64 KiB
};

CommandResult runCommand(const std::string& command, std::chrono::milliseconds timeout);

}  // namespace lb::controlplane
