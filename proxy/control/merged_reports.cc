#include "proxy/control/merged_reports.h"

namespace lb::control {

namespace {

template <typename Map>
const typename Map::mapped_type& findOrEmpty(const Map& map, const typename Map::key_type& key) {
  static const typename Map::mapped_type kEmpty{};
  auto it = map.find(key);
  return it == map.end() ? kEmpty : it->second;
}

}  // namespace

const MergedReports::Host& MergedReports::host(const upstream::HostState* h) const {
  return findOrEmpty(hosts, h);
}

const stats::Report& MergedReports::route(const std::string& name) const {
  return findOrEmpty(routes, name);
}

const stats::ListenerCounters& MergedReports::listener(const std::string& name) const {
  return findOrEmpty(listeners, name);
}

MergedReports mergeReports(const std::vector<worker::WorkerReport>& reports) {
  MergedReports m;
  m.workers = reports.size();
  for (const auto& r : reports) {
    m.downstream_connections += r.downstream_connections;
    for (const auto& [name, route] : r.routes) m.routes[name].merge(route);
    for (const auto& [name, counters] : r.listeners) m.listeners[name].merge(counters);
    for (const auto& [name, queued] : r.cluster_queued) m.cluster_queued[name] += queued;
    for (const auto& [state, h] : r.hosts) {
      MergedReports::Host& merged = m.hosts[state];
      merged.report.merge(h.report);
      merged.active_requests += h.active_requests;
      merged.idle_connections += h.idle_connections;
    }
  }
  return m;
}

}  // namespace lb::control
