#include "proxy/admin/admin_json.h"

#include "common/http_server.h"

namespace lb::admin {

using control::ControlError;
using nlohmann::json;

std::pair<int, json> errorAnswer(const ControlError& e) {
  switch (e.kind) {
    case ControlError::Kind::kNotFound:
      return {404, common::errorBody("not_found", e.message)};
    case ControlError::Kind::kConflict: {
      json body = common::errorBody("conflict", e.message);
      if (e.active_requests) body["active_requests"] = *e.active_requests;
      return {409, body};
    }
    case ControlError::Kind::kInvalidConfig: {
      json body = common::errorBody("invalid_config", e.message);
      if (!e.config_errors.empty()) {
        json errors = json::array();
        for (const auto& ce : e.config_errors)
          errors.push_back({{"file", ce.file},
                            {"line", ce.mark.line},
                            {"column", ce.mark.column},
                            {"field", ce.path},
                            {"message", ce.message},
                            {"text", ce.toString()}});
        body["errors"] = errors;
      }
      return {422, body};
    }
    case ControlError::Kind::kReloadFailed:
      return {422, common::errorBody("reload_failed", e.message)};
    case ControlError::Kind::kInternal:
      break;
  }
  return {500, common::errorBody("internal", e.message)};
}

json hostJson(const control::HostView& h) {
  json j = {{"id", h.config.id},
            {"address", h.config.address},
            {"weight", h.weight},
            {"labels", h.config.labels},
            {"state", upstream::adminStateName(h.admin)},
            {"health", upstream::healthName(h.health)},
            {"ejected", h.ejected},
            {"usable", h.usable},
            {"active_requests", h.active_requests},
            {"connections", {{"active", h.active_requests}, {"idle", h.idle_connections}}},
            {"drained", h.drained}};
  if (h.last_check) {
    j["last_check"] = *h.last_check;
    j["ejections"] = h.ejections;
    j["last_ejection_ms"] = h.last_ejection_ms;
  }
  return j;
}

json hostAnswerJson(const control::HostAnswer& a) {
  if (!a.host) return {{"cluster", a.cluster}, {"id", a.id}, {"removed", true}};
  json body = hostJson(*a.host);
  body["cluster"] = a.cluster;
  return body;
}

json clusterJson(const control::ClusterView& v) {
  const config::ClusterConfig& c = v.config;
  json hosts = json::array();
  for (const auto& h : v.hosts) hosts.push_back(hostJson(h));
  json hc = {{"enabled", c.health_check.enabled}};
  if (c.health_check.enabled) {
    hc["path"] = c.health_check.path;
    hc["interval_ms"] = c.health_check.interval.count();
    hc["timeout_ms"] = c.health_check.timeout.count();
    hc["healthy_threshold"] = c.health_check.healthy_threshold;
    hc["unhealthy_threshold"] = c.health_check.unhealthy_threshold;
  }
  const config::ClusterLimits& l = c.limits;
  json limits = {{"max_requests_per_host", l.max_requests_per_host},
                 {"max_connections_per_host", l.max_connections_per_host},
                 {"max_queued", l.max_queued},
                 {"queue_timeout_ms", l.queue_timeout.count()},
                 {"queued", v.queued}};
  return {{"name", c.name},
          {"balancer", config::balancerName(c.balancer)},
          {"health_check", hc},
          {"limits", limits},
          {"outlier_detection", c.outlier_detection.enabled},
          {"slow_start_ms", c.slow_start.count()},
          {"hosts", hosts}};
}

json clustersJson(const std::vector<control::ClusterView>& clusters) {
  json list = json::array();
  for (const auto& c : clusters) list.push_back(clusterJson(c));
  return {{"clusters", list}};
}

json statusJson(const control::StatusView& s) {
  json listeners = json::array();
  for (const auto& l : s.listeners)
    listeners.push_back({{"name", l.name}, {"address", l.address}, {"port", l.port}});
  return {{"version", s.version},
          {"uptime_seconds", s.uptime_seconds},
          {"started_at_unix", s.started_unix},
          {"workers", s.workers},
          {"config_path", s.config_path},
          {"config_version", s.config_version},
          {"snapshot_version", s.snapshot_version},
          {"reloads", {{"ok", s.reloads_ok}, {"failed", s.reloads_failed}}},
          {"listeners", listeners},
          {"state_file", s.state_file}};
}

json reloadJson(const control::ReloadView& r) {
  return {{"result", "reloaded"},
          {"config_version", r.config_version},
          {"snapshot_version", r.snapshot_version},
          {"workers_switched", r.workers_switched},
          {"warnings", r.warnings}};
}

namespace {

json windowJson(const stats::Report& r, uint32_t window_s) {
  json responses = json::object();
  for (size_t i = 0; i < stats::kStatusClasses; ++i)
    responses[stats::statusClassName(i)] = r.window.responses[i];
  json errors = json::object();
  for (size_t i = 0; i < stats::kUpstreamReasons; ++i)
    errors[stats::upstreamReasonName(i)] = r.window.upstream_errors[i];
  const auto& h = r.window_latency;
  const double requests = static_cast<double>(r.window.requests);
  const double mean = r.window.requests ? r.window.latency_sum_seconds * 1000.0 / requests : 0;
  const uint64_t errors5xx = r.window.responses[4];
  const stats::TunnelCounters& t = r.totals.tunnels;
  return json{{"requests", r.window.requests},
              {"rps", requests / window_s},
              {"responses", responses},
              {"error_rate", r.window.requests ? static_cast<double>(errors5xx) / requests : 0.0},
              {"upstream_errors", errors},
              {"retries", r.window.retries},
              {"retries_refused", r.window.retries_refused},
              {"rate_limited", r.window.rate_limited},
              {"rate_limited_dry_run", r.window.rate_limited_dry_run},
              {"latency_ms",
               {{"mean", mean},
                {"p50", h.quantile(0.50) / 1000.0},
                {"p95", h.quantile(0.95) / 1000.0},
                {"p99", h.quantile(0.99) / 1000.0}}},
              // Since start, not windowed: tunnels outlive any window.
              {"tunnels",
               {{"active", t.active},
                {"opened", t.opened},
                {"bytes_up", t.bytes_up},
                {"bytes_down", t.bytes_down}}}};
}

}  // namespace

json statsJson(const control::StatsView& s) {
  json routes = json::object();
  for (const auto& r : s.routes) {
    json rj = windowJson(r.report, s.window_s);
    if (r.sticky) {
      const stats::StickyCounters& st = r.report.totals.sticky;
      rj["sticky"] = {{"kept", st.kept}, {"moved", st.moved}, {"placed", st.placed}};
    }
    if (r.compression) {
      const stats::CompressionCounters& c = r.report.totals.compression;
      rj["compression"] = {
          {"gzip", c.gzip}, {"br", c.brotli}, {"bytes_in", c.bytes_in}, {"bytes_out", c.bytes_out}};
    }
    if (r.cluster) {
      // The route's cluster and objectives: what a deploy's analysis judges a version by.
      rj["cluster"] = *r.cluster;
      json sj = json::object();
      if (r.slo.mean.count()) sj["mean_ms"] = r.slo.mean.count();
      if (r.slo.p95.count()) sj["p95_ms"] = r.slo.p95.count();
      if (r.slo.p99.count()) sj["p99_ms"] = r.slo.p99.count();
      if (r.slo.max_error_rate > 0) sj["max_error_rate"] = r.slo.max_error_rate;
      rj["slo"] = sj;
    }
    routes[r.name] = rj;
  }
  json clusters = json::object();
  for (const auto& [name, hosts] : s.clusters) {
    json hj = json::object();
    for (const auto& h : hosts) {
      json one = windowJson(h.totals.report, s.window_s);
      one["active_requests"] = h.totals.active_requests;
      hj[h.id] = one;
    }
    clusters[name] = hj;
  }
  return {{"window_seconds", s.window_s}, {"routes", routes}, {"clusters", clusters}};
}

json routeJson(const control::RouteView& r) {
  json j = {{"name", r.name},
            {"listener", r.listener},
            {"source", r.runtime ? "runtime" : "file"},
            {"destinations", json::array()}};
  uint64_t total = 0;
  for (const auto& d : r.destinations) total += d.config.weight;
  for (const auto& d : r.destinations) {
    const double share = total ? static_cast<double>(d.config.weight) / total : 0;
    j["destinations"].push_back({{"cluster", d.config.cluster},
                                 {"subset", d.config.subset},
                                 {"weight", d.config.weight},
                                 {"share", share},
                                 {"hosts", d.hosts},
                                 {"label", d.config.label()}});
  }
  return j;
}

json routesJson(const std::vector<control::RouteView>& routes) {
  json j = {{"routes", json::array()}};
  for (const auto& r : routes) j["routes"].push_back(routeJson(r));
  return j;
}

}  // namespace lb::admin
