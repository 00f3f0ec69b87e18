// YAML (yaml-cpp) -> typed model -> validation, for every program of the project.
// Setup code: called on the main thread; never throws (yaml-cpp's exceptions stop here).
#pragma once

#include <string>
#include <vector>

#include "config/model.h"

namespace lb::config {

struct ConfigError {
  std::string file;
  Mark mark;         // 0:0 when the error has no place in the file (e.g. unreadable file)
  std::string path;  // field path, e.g. listeners[0].routes[2].cluster
  std::string message;

  // "file:line:col: path: message"
  std::string toString() const;
};

struct LoadResult {
  ProxyConfig config;
  std::vector<ConfigError> errors;  // all of them, in file order; empty = valid
  bool ok() const { return errors.empty(); }
};

LoadResult loadProxyConfigFile(const std::string& path);
LoadResult loadProxyConfigString(const std::string& yaml, const std::string& source_name);

}  // namespace lb::config
