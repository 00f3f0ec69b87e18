// lbcontrol's YAML -> ControlConfig, with every error as file:line:column and the field, like the
// proxy's loader (config/loader.h). Setup code, any thread; never throws.
#pragma once

#include <string>
#include <vector>

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

// "http://IP:PORT" (an optional trailing "/"): the only URL form the proxies' admin API and
// lbcontrol's own API are reached at. Returns the "IP:PORT" part.
std::optional<std::string> parseAdminUrl(std::string_view url);

}  // namespace lb::config
