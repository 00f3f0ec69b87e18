// The admin API's JSON (docs/admin-api.md) rendered from the controller's views and errors
// (control/commands.h), and the HTTP status each error answers with. Pure functions, any
// thread.
#pragma once

#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "proxy/control/commands.h"

namespace lb::admin {

// HTTP status and body of a controller error.
std::pair<int, nlohmann::json> errorAnswer(const control::ControlError& e);

nlohmann::json hostJson(const control::HostView& h);
// A host operation's answer: the host with its cluster, or {"removed": true}.
nlohmann::json hostAnswerJson(const control::HostAnswer& a);
nlohmann::json clusterJson(const control::ClusterView& c);
nlohmann::json clustersJson(const std::vector<control::ClusterView>& clusters);
nlohmann::json routeJson(const control::RouteView& r);
nlohmann::json routesJson(const std::vector<control::RouteView>& routes);
nlohmann::json statusJson(const control::StatusView& s);
nlohmann::json reloadJson(const control::ReloadView& r);
nlohmann::json statsJson(const control::StatsView& s);

}  // namespace lb::admin
