// `lbctl routes` and `lbctl split`: a route's weighted destinations (docs/routing.md).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace lb::lbctl {

// "app=90" or "app{version=1.1.0,zone=a}=10" (the label `lbctl routes` prints, '=' and the
// weight) -> {"cluster", "subset", "weight"}; nullopt and *error when it is not that form.
std::optional<nlohmann::json> parseDestinationArg(const std::string& arg, std::string* error);

// The table of `lbctl routes` from GET /v1/routes.
void routesTable(const nlohmann::json& body);

}  // namespace lb::lbctl
