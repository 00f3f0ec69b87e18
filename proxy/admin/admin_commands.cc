#include "proxy/admin/admin_commands.h"

#include <cctype>
#include <nlohmann/json.hpp>
#include <set>

#include "config/values.h"
#include "proxy/control/runtime_overlay.h"

namespace lb::admin {

using nlohmann::json;
using upstream::AdminState;

namespace {

// A JSON object body, or the error.
std::optional<json> parseObject(const std::string& body, std::string* error) {
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception& e) {
    *error = std::string("body is not valid JSON: ") + e.what();
    return std::nullopt;
  }
  if (!j.is_object()) {
    *error = "body must be a JSON object";
    return std::nullopt;
  }
  return j;
}

bool validHostId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
      return false;
  return true;
}

std::optional<uint32_t> weightOf(const json& w) {
  if (!w.is_number_unsigned() || w.get<uint64_t>() < config::kMinWeight ||
      w.get<uint64_t>() > config::kMaxWeight)
    return std::nullopt;
  return w.get<uint32_t>();
}

std::string weightError() {
  return "field \"weight\" must be an integer " + std::to_string(config::kMinWeight) + "-" +
         std::to_string(config::kMaxWeight);
}

constexpr const char* kStateError = "field \"state\" must be ready, drain or maint";

template <typename T>
Parsed<T> bad(std::string why) {
  return {std::nullopt, std::move(why)};
}

}  // namespace

Parsed<control::AddHost> parseAddHost(const std::string& cluster, const std::string& body) {
  using P = control::AddHost;
  std::string error;
  auto j = parseObject(body, &error);
  if (!j) return bad<P>(error);
  control::AddHost cmd;
  cmd.cluster = cluster;
  config::HostConfig& host = cmd.host;
  try {
    if (!j->contains("id") || !(*j)["id"].is_string())
      return bad<P>("field \"id\" (string) is required");
    if (!j->contains("address") || !(*j)["address"].is_string())
      return bad<P>("field \"address\" (string, IP:PORT) is required");
    host.id = (*j)["id"].get<std::string>();
    host.address = (*j)["address"].get<std::string>();
    if (j->contains("weight")) {
      auto w = weightOf((*j)["weight"]);
      if (!w) return bad<P>(weightError());
      host.weight = *w;
    }
    if (j->contains("labels")) {
      if (!(*j)["labels"].is_object()) return bad<P>("field \"labels\" must be an object");
      for (const auto& [k, v] : (*j)["labels"].items()) {
        if (!v.is_string()) return bad<P>("label \"" + k + "\" must be a string");
        host.labels[k] = v.get<std::string>();
      }
    }
    if (j->contains("state")) {
      if ((*j)["state"].is_string())
        cmd.state = control::parseAdminState((*j)["state"].get<std::string>());
      if (!cmd.state) return bad<P>(kStateError);
    }
    for (const auto& [k, v] : j->items())
      if (k != "id" && k != "address" && k != "weight" && k != "labels" && k != "state")
        return bad<P>("unknown field \"" + k + "\"");
  } catch (const json::exception& e) {
    return bad<P>(e.what());
  }
  if (!validHostId(host.id)) return bad<P>("field \"id\" must be 1-128 of A-Z a-z 0-9 . _ -");
  if (!config::parseHostPort(host.address, false))
    return bad<P>("field \"address\": invalid address \"" + host.address + "\" (expected IP:PORT)");
  return {std::move(cmd), ""};
}

Parsed<control::SetHostState> parseSetHostState(const std::string& cluster, const std::string& id,
                                                const std::string& body) {
  using P = control::SetHostState;
  std::string error;
  auto j = parseObject(body, &error);
  if (!j) return bad<P>(error);
  std::optional<AdminState> state;
  if (j->contains("state") && (*j)["state"].is_string())
    state = control::parseAdminState((*j)["state"].get<std::string>());
  if (!state) return bad<P>(kStateError);
  std::optional<config::Duration> deadline;
  if (j->contains("deadline")) {
    if ((*j)["deadline"].is_string())
      deadline = config::parseDuration((*j)["deadline"].get<std::string>());
    if (!deadline) return bad<P>("field \"deadline\" must be a duration such as \"30s\"");
  }
  for (const auto& [k, v] : j->items())
    if (k != "state" && k != "deadline") return bad<P>("unknown field \"" + k + "\"");
  if (deadline && *state != AdminState::kDrain)
    return bad<P>("\"deadline\" applies to state drain only");
  return {control::SetHostState{cluster, id, *state, deadline}, ""};
}

Parsed<control::SetHostWeight> parseSetHostWeight(const std::string& cluster, const std::string& id,
                                                  const std::string& body) {
  using P = control::SetHostWeight;
  std::string error;
  auto j = parseObject(body, &error);
  if (!j) return bad<P>(error);
  std::optional<uint32_t> weight;
  if (j->contains("weight")) weight = weightOf((*j)["weight"]);
  if (!weight) return bad<P>(weightError());
  for (const auto& [k, v] : j->items())
    if (k != "weight") return bad<P>("unknown field \"" + k + "\"");
  return {control::SetHostWeight{cluster, id, *weight}, ""};
}

Parsed<control::SetRouteDestinations> parseSetRouteDestinations(const std::string& route,
                                                                const std::string& body) {
  using P = control::SetRouteDestinations;
  std::string error;
  auto j = parseObject(body, &error);
  if (!j) return bad<P>(error);
  for (const auto& [k, v] : j->items())
    if (k != "destinations") return bad<P>("unknown field \"" + k + "\"");
  const json* list = j->contains("destinations") ? &(*j)["destinations"] : nullptr;
  if (!list || !list->is_array() || list->empty() || list->size() > config::kMaxDestinations)
    return bad<P>("field \"destinations\" must be a list of 1 to " +
                  std::to_string(config::kMaxDestinations) + " objects {cluster, subset, weight}");
  control::SetRouteDestinations cmd;
  cmd.route = route;
  uint64_t total = 0;
  std::set<std::string> seen;
  for (size_t i = 0; i < list->size(); ++i) {
    const json& d = (*list)[i];
    const std::string at = "destinations[" + std::to_string(i) + "]";
    if (!d.is_object()) return bad<P>(at + " must be an object");
    config::DestinationConfig dest;
    for (const auto& [k, v] : d.items()) {
      if (k == "cluster" && v.is_string() && !v.get<std::string>().empty()) {
        dest.cluster = v.get<std::string>();
      } else if (k == "weight" && v.is_number_unsigned() &&
                 v.get<uint64_t>() <= config::kMaxDestinationWeight) {
        dest.weight = v.get<uint32_t>();
      } else if (k == "subset" && v.is_object()) {
        for (const auto& [label, value] : v.items()) {
          if (!value.is_string()) return bad<P>(at + ".subset." + label + " must be a string");
          dest.subset[label] = value.get<std::string>();
        }
      } else if (k == "cluster" || k == "weight" || k == "subset") {
        return bad<P>(at + "." + k +
                      (k == "cluster"  ? " must be a cluster name"
                       : k == "weight" ? " must be an integer 0-" +
                                             std::to_string(config::kMaxDestinationWeight)
                                       : " must be an object of host labels to values"));
      } else {
        return bad<P>(at + ": unknown field \"" + k + "\"");
      }
    }
    if (dest.cluster.empty()) return bad<P>(at + ".cluster (string) is required");
    if (!seen.insert(dest.label()).second)
      return bad<P>(at + ": destination \"" + dest.label() + "\" is listed twice");
    total += dest.weight;
    cmd.destinations.push_back(std::move(dest));
  }
  if (total == 0) return bad<P>("the weights sum to 0: at least one must be above 0");
  return {std::move(cmd), ""};
}

}  // namespace lb::admin
