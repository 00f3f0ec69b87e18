// The admin API's request bodies -> the controller's typed commands (control/commands.h), with
// every check of form made here: JSON shape, known fields, id and address syntax, the weight
// range (config's, as for files), states and durations. What needs the running config (does
// the cluster exist, is the id taken) is the controller's. Pure functions, any thread.
#pragma once

#include <optional>
#include <string>

#include "proxy/control/commands.h"

namespace lb::admin {

// The command, or why the body is wrong (a 400's message).
template <typename T>
struct Parsed {
  std::optional<T> command;
  std::string error;
};

Parsed<control::AddHost> parseAddHost(const std::string& cluster, const std::string& body);
Parsed<control::SetHostState> parseSetHostState(const std::string& cluster, const std::string& id,
                                                const std::string& body);
Parsed<control::SetHostWeight> parseSetHostWeight(const std::string& cluster, const std::string& id,
                                                  const std::string& body);
// {"destinations": [{"cluster": "app", "subset": {"version": "1.1.0"}, "weight": 90}, ...]}:
// the loader's rules (1 to 16, weights 0-10000 summing to more than 0, none twice).
Parsed<control::SetRouteDestinations> parseSetRouteDestinations(const std::string& route,
                                                                const std::string& body);

}  // namespace lb::admin
