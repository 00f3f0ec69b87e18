// The lbproxy process: loads the config, opens the listening sockets, runs the workers, and
// on the main thread handles signals (SIGTERM/SIGINT graceful stop, SIGUSR1 log reopen).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/model.h"

namespace lb {

struct ServerOptions {
  std::string config_path;
  int workers_override = -1;  // -1: from the config
};

// Runs until a graceful shutdown completes. Returns the process exit code.
int runServer(const config::ProxyConfig& config, const ServerOptions& options);

}  // namespace lb
