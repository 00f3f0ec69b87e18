#include "proxy/control/runtime_overlay.h"

#include <nlohmann/json.hpp>

namespace lb::control {

using nlohmann::json;

std::optional<upstream::AdminState> parseAdminState(const std::string& name) {
  if (name == "ready") return upstream::AdminState::kReady;
  if (name == "drain") return upstream::AdminState::kDrain;
  if (name == "maint") return upstream::AdminState::kMaint;
  return std::nullopt;
}

config::ProxyConfig RuntimeOverlay::apply(const config::ProxyConfig& file) const {
  config::ProxyConfig out = file;
  for (auto& c : out.clusters) {
    if (auto r = removed.find(c.name); r != removed.end())
      std::erase_if(c.hosts, [&](const config::HostConfig& h) { return r->second.count(h.id); });
    if (auto a = added.find(c.name); a != added.end()) {
      for (const auto& h : a->second) {
        bool in_file = false;
        for (const auto& existing : c.hosts) in_file |= existing.id == h.id;
        if (!in_file) c.hosts.push_back(h);
      }
    }
    if (auto o = overrides.find(c.name); o != overrides.end()) {
      for (auto& h : c.hosts) {
        auto it = o->second.find(h.id);
        if (it != o->second.end() && it->second.weight) h.weight = *it->second.weight;
      }
    }
  }
  for (auto& l : out.listeners) {
    for (auto& route : l.routes) {
      const auto* d = destinationsFor(route.name, out);
      if (!d) continue;
      route.destinations = *d;
      route.cluster = d->front().cluster;
    }
  }
  return out;
}

const std::vector<config::DestinationConfig>* RuntimeOverlay::destinationsFor(
    const std::string& route, const config::ProxyConfig& cfg) const {
  auto d = destinations.find(route);
  if (d == destinations.end() || d->second.empty()) return nullptr;
  for (const auto& dest : d->second)
    if (!cfg.findCluster(dest.cluster)) return nullptr;  // a cluster the file dropped
  return &d->second;
}

void RuntimeOverlay::addHost(const std::string& cluster, const config::HostConfig& host) {
  removed[cluster].erase(host.id);
  auto& list = added[cluster];
  std::erase_if(list, [&](const config::HostConfig& h) { return h.id == host.id; });
  list.push_back(host);
  overrides[cluster].erase(host.id);
}

void RuntimeOverlay::removeHost(const std::string& cluster, const std::string& id) {
  auto& list = added[cluster];
  size_t before = list.size();
  std::erase_if(list, [&](const config::HostConfig& h) { return h.id == id; });
  if (list.size() == before) removed[cluster].insert(id);  // it came from the file
  overrides[cluster].erase(id);
}

std::string RuntimeOverlay::toJson() const {
  json j = {{"version", 1},
            {"added", json::object()},
            {"removed", json::object()},
            {"overrides", json::object()}};
  for (const auto& [cluster, hosts] : added) {
    if (hosts.empty()) continue;
    json list = json::array();
    for (const auto& h : hosts)
      list.push_back(
          {{"id", h.id}, {"address", h.address}, {"weight", h.weight}, {"labels", h.labels}});
    j["added"][cluster] = list;
  }
  for (const auto& [cluster, ids] : removed)
    if (!ids.empty()) j["removed"][cluster] = ids;
  for (const auto& [cluster, hosts] : overrides) {
    for (const auto& [id, o] : hosts) {
      json entry = json::object();
      if (o.admin) entry["state"] = upstream::adminStateName(*o.admin);
      if (o.weight) entry["weight"] = *o.weight;
      if (!entry.empty()) j["overrides"][cluster][id] = entry;
    }
  }
  if (!destinations.empty()) {
    j["destinations"] = json::object();
    for (const auto& [route, list] : destinations) {
      json a = json::array();
      for (const auto& d : list)
        a.push_back({{"cluster", d.cluster}, {"subset", d.subset}, {"weight", d.weight}});
      j["destinations"][route] = a;
    }
  }
  return j.dump(2) + "\n";
}

bool RuntimeOverlay::fromJson(const std::string& text, std::string* error) {
  RuntimeOverlay out;
  try {
    json j = json::parse(text);
    if (!j.is_object() || j.value("version", 0) != 1) {
      *error = "not a version 1 state file";
      return false;
    }
    for (const auto& [cluster, hosts] : j.at("added").items()) {
      for (const auto& h : hosts) {
        config::HostConfig host;
        host.id = h.at("id").get<std::string>();
        host.address = h.at("address").get<std::string>();
        host.weight = h.at("weight").get<uint32_t>();
        host.labels = h.value("labels", std::map<std::string, std::string>{});
        out.added[cluster].push_back(std::move(host));
      }
    }
    for (const auto& [cluster, ids] : j.at("removed").items())
      out.removed[cluster] = ids.get<std::set<std::string>>();
    for (const auto& [cluster, hosts] : j.at("overrides").items()) {
      for (const auto& [id, o] : hosts.items()) {
        HostOverride ho;
        if (o.contains("state")) {
          ho.admin = parseAdminState(o.at("state").get<std::string>());
          if (!ho.admin) {
            *error = "unknown state for " + cluster + "/" + id;
            return false;
          }
        }
        if (o.contains("weight")) ho.weight = o.at("weight").get<uint32_t>();
        out.overrides[cluster][id] = ho;
      }
    }
    if (j.contains("destinations")) {
      for (const auto& [route, list] : j.at("destinations").items()) {
        for (const auto& d : list) {
          config::DestinationConfig dest;
          dest.cluster = d.at("cluster").get<std::string>();
          dest.subset = d.value("subset", std::map<std::string, std::string>{});
          dest.weight = d.at("weight").get<uint32_t>();
          out.destinations[route].push_back(std::move(dest));
        }
      }
    }
  } catch (const json::exception& e) {
    *error = e.what();
    return false;
  }
  *this = std::move(out);
  return true;
}

}  // namespace lb::control
