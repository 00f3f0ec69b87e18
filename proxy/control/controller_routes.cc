// The controller's route operations: weighted destinations set at runtime (docs/routing.md).
#include "proxy/control/controller.h"

namespace lb::control {

namespace {

ControlError noRoute(const std::string& route) {
  return {ControlError::Kind::kNotFound, "no route named \"" + route + "\""};
}

uint32_t hostsIn(const config::ClusterConfig& c, const config::DestinationConfig& d) {
  uint32_t n = 0;
  for (const auto& h : c.hosts) n += d.holds(h) ? 1 : 0;
  return n;
}

}  // namespace

std::optional<RouteView> Controller::routeView(const std::string& route) const {
  for (const auto& l : effective_.listeners) {
    for (const auto& r : l.routes) {
      if (r.name != route) continue;
      RouteView v;
      v.name = r.name;
      v.listener = l.name;
      for (const auto& d : r.destinations) {
        const config::ClusterConfig* c = effective_.findCluster(d.cluster);
        v.destinations.push_back({d, c ? hostsIn(*c, d) : 0});
      }
      v.runtime = overlay_.destinationsFor(r.name, effective_) != nullptr;
      return v;
    }
  }
  return std::nullopt;
}

std::vector<RouteView> Controller::listRoutes() const {
  std::vector<RouteView> out;
  for (const auto& l : effective_.listeners)
    for (const auto& r : l.routes)
      if (auto v = routeView(r.name)) out.push_back(std::move(*v));
  return out;
}

void Controller::setRouteDestinations(SetRouteDestinations cmd, Done<RouteView> done) {
  const std::optional<RouteView> current = routeView(cmd.route);
  if (!current) return done(Result<RouteView>::fail(noRoute(cmd.route)));
  if (current->destinations.empty())
    return done(Result<RouteView>::fail(
        {ControlError::Kind::kConflict, "route \"" + cmd.route +
                                            "\" answers by itself (redirect or response): it has "
                                            "no destinations to split"}));
  for (const auto& d : cmd.destinations)
    if (!effectiveCluster(d.cluster))
      return done(Result<RouteView>::fail(
          {ControlError::Kind::kNotFound,
           "destination \"" + d.label() + "\": no cluster named \"" + d.cluster + "\""}));
  auto previous = overlay_.destinations.find(cmd.route);
  std::optional<std::vector<config::DestinationConfig>> before;
  if (previous != overlay_.destinations.end()) before = previous->second;
  overlay_.destinations[cmd.route] = cmd.destinations;
  std::string error;
  bool ok = publish(
      file_,
      [this, route = cmd.route, done] {
        if (auto v = routeView(route)) return done(Result<RouteView>::ok(std::move(*v)));
        done(Result<RouteView>::fail(noRoute(route)));
      },
      &error);
  if (!ok) {
    if (before)
      overlay_.destinations[cmd.route] = *before;
    else
      overlay_.destinations.erase(cmd.route);
    return done(Result<RouteView>::fail({ControlError::Kind::kInternal, error}));
  }
  saveState();
}

void Controller::resetRouteDestinations(const std::string& route, Done<RouteView> done) {
  if (!routeView(route)) return done(Result<RouteView>::fail(noRoute(route)));
  auto it = overlay_.destinations.find(route);
  if (it == overlay_.destinations.end()) return done(Result<RouteView>::ok(*routeView(route)));
  const std::vector<config::DestinationConfig> before = it->second;
  overlay_.destinations.erase(it);
  std::string error;
  bool ok = publish(
      file_,
      [this, route, done] {
        if (auto v = routeView(route)) return done(Result<RouteView>::ok(std::move(*v)));
        done(Result<RouteView>::fail(noRoute(route)));
      },
      &error);
  if (!ok) {
    overlay_.destinations[route] = before;
    return done(Result<RouteView>::fail({ControlError::Kind::kInternal, error}));
  }
  saveState();
}

}  // namespace lb::control
