#include "proxy/admin/admin_commands.h"

#include <cctype>
#include <nlohmann/json.hpp>

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

}  // namespace lb::admin
