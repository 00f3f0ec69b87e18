// lbcontrol's YAML -> ControlConfig, with every error as file:line:column and the field, like the
// proxy's loader (config/loader.h). Setup code, any thread; never throws.
#pragma once

#include <string>
#include <vector>

#include "common/uri.h"
#include "config/control_model.h"
#include "config/loader.h"

namespace lb::config {

struct ControlLoadResult {
  ControlConfig config;
  std::vector<ConfigError> errors;
  bool ok() const { return errors.empty(); }
};

ControlLoadResult loadControlConfigFile(const std::string& path);
ControlLoadResult loadControlConfigString(const std::string& yaml, const std::string& source_name);

// True when the file's top level has `proxies` (an lbcontrol file) rather than `listeners`.
bool isControlConfigFile(const std::string& path);

using common::parseAdminUrl;

}  // namespace lb::config
