// The drivers lbcontrol can run instances with, chosen by instances.driver.kind. Engine thread.
#pragma once

#include <memory>
#include <string>

#include "config/control_model.h"
#include "controlplane/model/driver.h"

namespace lb::controlplane {

std::unique_ptr<Driver> makeDriver(const config::ControlConfig& cfg);

// Substitutes {version}, {instance}, {port} and {host} in a command template.
std::string expandTemplate(const std::string& tmpl, const Instance& inst, const std::string& host);

}  // namespace lb::controlplane
