#include "proxy/admin/prometheus_exporter.h"

#include <dirent.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace lb::admin {

using namespace stats;  // the exposition renders the statistics layer's types

namespace {

using prometheus::Labels;

struct ProcessStats {
  double cpu_seconds = 0;
  double resident_bytes = 0;
  double virtual_bytes = 0;
  double open_fds = 0;
  double max_fds = 0;
  double threads = 0;
};

ProcessStats readProcessStats() {
  ProcessStats p;
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) == 0)
    p.cpu_seconds = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                    static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  std::ifstream statm("/proc/self/statm");
  double pages_virtual = 0, pages_resident = 0;
  if (statm >> pages_virtual >> pages_resident) {
    double page = static_cast<double>(sysconf(_SC_PAGESIZE));
    p.virtual_bytes = pages_virtual * page;
    p.resident_bytes = pages_resident * page;
  }
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') ++p.open_fds;
    closedir(d);
    --p.open_fds;  // the directory stream itself
  }
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) p.max_fds = static_cast<double>(rl.rlim_cur);
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("Threads:", 0) == 0) p.threads = std::stod(line.substr(8));
  return p;
}

prometheus::Histogram::BucketBoundaries bounds() {
  return prometheus::Histogram::BucketBoundaries(kPromBuckets.begin(), kPromBuckets.end());
}

std::vector<double> bucketIncrements(const Totals& t) {
  return std::vector<double>(t.duration_buckets.begin(), t.duration_buckets.end());
}

void addTunnels(const TunnelCounters& t, const Labels& base,
                prometheus::Family<prometheus::Gauge>& active,
                prometheus::Family<prometheus::Counter>& opened,
                prometheus::Family<prometheus::Counter>& bytes) {
  active.Add(base).Set(static_cast<double>(t.active));
  opened.Add(base).Increment(static_cast<double>(t.opened));
  Labels up = base, down = base;
  up["direction"] = "up";
  down["direction"] = "down";
  bytes.Add(up).Increment(static_cast<double>(t.bytes_up));
  bytes.Add(down).Increment(static_cast<double>(t.bytes_down));
}

}  // namespace

std::string renderPrometheus(const control::MetricsInput& in) {
  prometheus::Registry registry;
  auto gauge = [&](const char* name, const char* help) -> prometheus::Family<prometheus::Gauge>& {
    return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
  };
  auto counter = [&](const char* name,
                     const char* help) -> prometheus::Family<prometheus::Counter>& {
    return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
  };
  auto histogram = [&](const char* name,
                       const char* help) -> prometheus::Family<prometheus::Histogram>& {
    return prometheus::BuildHistogram().Name(name).Help(help).Register(registry);
  };

  gauge("lbproxy_build_info", "lbproxy build; the value is always 1")
      .Add({{"version", "0.1.0"}})
      .Set(1);
  gauge("lbproxy_config_version", "Successful loads of the configuration file since start")
      .Add({})
      .Set(static_cast<double>(in.config_version));
  auto& reloads = counter("lbproxy_config_reloads_total", "Configuration reloads by result");
  reloads.Add({{"result", "success"}}).Increment(static_cast<double>(in.reloads_ok));
  reloads.Add({{"result", "failure"}}).Increment(static_cast<double>(in.reloads_failed));
  gauge("lbproxy_config_last_reload_success_timestamp_seconds",
        "Unix time of the last successful reload (0: none)")
      .Add({})
      .Set(static_cast<double>(in.last_reload_unix));
  gauge("lbproxy_workers", "Worker threads").Add({}).Set(static_cast<double>(in.reports.workers));

  gauge("lbproxy_downstream_connections", "Open client connections")
      .Add({})
      .Set(static_cast<double>(in.reports.downstream_connections));

  // Per listener: client protocol and TLS.
  auto& down_requests = counter("lbproxy_downstream_requests_total",
                                "Client requests per listener, by protocol and TLS version");
  auto& handshakes =
      counter("lbproxy_tls_handshakes_total", "TLS handshakes per listener, by result");
  auto& proxy_headers = counter("lbproxy_proxy_protocol_headers_total",
                                "PROXY protocol headers per listener, by result");
  for (const auto& l : in.config->listeners) {
    const ListenerCounters& merged = in.reports.listener(l.name);
    for (size_t p = 0; p < kClientProtocols; ++p)
      for (size_t v = 0; v < kTlsVersions; ++v) {
        if ((v == 0) == l.tls.enabled) continue;  // a TLS listener has no plain requests
        down_requests
            .Add({{"listener", l.name},
                  {"protocol", clientProtocolName(p)},
                  {"tls", tlsVersionName(v)}})
            .Increment(static_cast<double>(merged.requests[p][v]));
      }
    if (l.tls.enabled)
      for (size_t i = 0; i < kHandshakeResults; ++i)
        handshakes.Add({{"listener", l.name}, {"result", handshakeResultName(i)}})
            .Increment(static_cast<double>(merged.handshakes[i]));
    if (l.proxy_protocol.enabled)
      for (size_t i = 0; i < kProxyResults; ++i)
        proxy_headers.Add({{"listener", l.name}, {"result", proxyResultName(i)}})
            .Increment(static_cast<double>(merged.proxy_headers[i]));
  }

  // Per route.
  auto& route_requests = counter("lbproxy_route_requests_total",
                                 "Requests that matched a route, by response status class");
  auto& route_duration = histogram("lbproxy_route_request_duration_seconds",
                                   "Time from the first byte of a request to the end of its "
                                   "response, per route");
  auto& route_errors =
      counter("lbproxy_route_upstream_errors_total", "Upstream errors per route, by reason");
  auto& route_retries =
      counter("lbproxy_route_retries_total", "Retries to another host, per route");
  auto& route_rate_limited = counter(
      "lbproxy_route_rate_limited_total",
      "Requests over the route's rate limit, by mode (enforced: answered 429; dry_run: counted)");
  auto& route_retries_refused =
      counter("lbproxy_route_retries_refused_total",
              "Retries the route's policy wanted that the cluster's retry budget refused");
  auto& route_tunnels = gauge("lbproxy_route_tunnels_active",
                              "Open upgraded connections (WebSocket and other tunnels), per route");
  auto& route_tunnels_total =
      counter("lbproxy_route_tunnels_total", "Upgraded connections opened, per route");
  auto& route_tunnel_bytes =
      counter("lbproxy_route_tunnel_bytes_total",
              "Bytes through closed tunnels, per route (direction up: client to backend)");
  auto& route_sticky = counter("lbproxy_route_sticky_total",
                               "Responses on a route with sticky sessions, by outcome (kept: where "
                               "the cookie said; moved: elsewhere; placed: no cookie yet)");
  auto& route_compressed = counter("lbproxy_route_compressed_responses_total",
                                   "Responses compressed on a route, by encoding (gzip, br)");
  auto& route_compression_bytes =
      counter("lbproxy_route_compression_bytes_total",
              "Body bytes of compressed responses, per route (stage in: from the backend; out: "
              "coded, to the client)");
  auto& slo_latency = gauge("lbproxy_route_slo_latency_seconds",
                            "Latency objective of a route from the config (stat: mean, p95, p99)");
  auto& slo_errors =
      gauge("lbproxy_route_slo_error_rate", "Error-rate objective of a route from the config");
  auto& destination_weight =
      gauge("lbproxy_route_destination_weight",
            "Weight of each destination of a route (as in effect: the file's or the admin API's)");
  for (const auto& l : in.config->listeners) {
    for (const auto& route : l.routes) {
      for (const auto& d : route.destinations)
        destination_weight.Add({{"route", route.name}, {"destination", d.label()}})
            .Set(static_cast<double>(d.weight));
      const Totals& t = in.reports.route(route.name).totals;
      Labels base{{"listener", l.name}, {"route", route.name}, {"cluster", route.cluster}};
      for (size_t i = 0; i < kStatusClasses; ++i) {
        Labels lb = base;
        lb["code_class"] = statusClassName(i);
        route_requests.Add(lb).Increment(static_cast<double>(t.counters.responses[i]));
      }
      route_duration.Add(base, bounds())
          .ObserveMultiple(bucketIncrements(t), t.counters.latency_sum_seconds);
      for (size_t i = 0; i < kUpstreamReasons; ++i)
        route_errors.Add({{"route", route.name}, {"reason", upstreamReasonName(i)}})
            .Increment(static_cast<double>(t.counters.upstream_errors[i]));
      route_retries.Add({{"route", route.name}}).Increment(static_cast<double>(t.counters.retries));
      if (route.rate_limit.enabled) {
        route_rate_limited.Add({{"route", route.name}, {"mode", "enforced"}})
            .Increment(static_cast<double>(t.counters.rate_limited));
        route_rate_limited.Add({{"route", route.name}, {"mode", "dry_run"}})
            .Increment(static_cast<double>(t.counters.rate_limited_dry_run));
      }
      route_retries_refused.Add({{"route", route.name}})
          .Increment(static_cast<double>(t.counters.retries_refused));
      addTunnels(t.tunnels, base, route_tunnels, route_tunnels_total, route_tunnel_bytes);
      if (route.sticky.enabled) {
        route_sticky.Add({{"route", route.name}, {"outcome", "kept"}})
            .Increment(static_cast<double>(t.sticky.kept));
        route_sticky.Add({{"route", route.name}, {"outcome", "moved"}})
            .Increment(static_cast<double>(t.sticky.moved));
        route_sticky.Add({{"route", route.name}, {"outcome", "placed"}})
            .Increment(static_cast<double>(t.sticky.placed));
      }
      if (route.compression.enabled) {
        const stats::CompressionCounters& c = t.compression;
        route_compressed.Add({{"route", route.name}, {"encoding", "gzip"}})
            .Increment(static_cast<double>(c.gzip));
        route_compressed.Add({{"route", route.name}, {"encoding", "br"}})
            .Increment(static_cast<double>(c.brotli));
        route_compression_bytes.Add({{"route", route.name}, {"stage", "in"}})
            .Increment(static_cast<double>(c.bytes_in));
        route_compression_bytes.Add({{"route", route.name}, {"stage", "out"}})
            .Increment(static_cast<double>(c.bytes_out));
      }
      auto seconds = [](config::Duration d) { return static_cast<double>(d.count()) / 1000.0; };
      if (route.slo.mean.count())
        slo_latency.Add({{"route", route.name}, {"stat", "mean"}}).Set(seconds(route.slo.mean));
      if (route.slo.p95.count())
        slo_latency.Add({{"route", route.name}, {"stat", "p95"}}).Set(seconds(route.slo.p95));
      if (route.slo.p99.count())
        slo_latency.Add({{"route", route.name}, {"stat", "p99"}}).Set(seconds(route.slo.p99));
      if (route.slo.max_error_rate > 0)
        slo_errors.Add({{"route", route.name}}).Set(route.slo.max_error_rate);
    }
  }

  // Per cluster: requests waiting for a host with room, and the limits they wait on.
  auto& cluster_queued =
      gauge("lbproxy_cluster_queued_requests", "Requests waiting for a host under its limits");
  auto& cluster_limit = gauge("lbproxy_cluster_limit",
                              "A cluster's configured limit (totals over the workers), by kind");
  for (const auto& c : in.snapshot->clusters) {
    const config::ClusterLimits& l = c.config.limits;
    if (!l.any()) continue;
    auto it = in.reports.cluster_queued.find(c.config.name);
    cluster_queued.Add({{"cluster", c.config.name}})
        .Set(it == in.reports.cluster_queued.end() ? 0 : static_cast<double>(it->second));
    const std::pair<const char*, uint32_t> kinds[] = {
        {"max_requests_per_host", l.max_requests_per_host},
        {"max_connections_per_host", l.max_connections_per_host},
        {"max_queued", l.max_queued}};
    for (const auto& [kind, value] : kinds)
      if (value) cluster_limit.Add({{"cluster", c.config.name}, {"kind", kind}}).Set(value);
  }

  // Per host.
  auto& host_requests =
      counter("lbproxy_host_requests_total", "Requests that ended on a host, by status class");
  auto& host_duration =
      histogram("lbproxy_host_request_duration_seconds", "Request duration per upstream host");
  auto& host_errors =
      counter("lbproxy_host_upstream_errors_total", "Upstream errors per host, by reason");
  auto& host_active = gauge("lbproxy_host_active_requests", "Requests in flight to a host");
  auto& host_tunnels = gauge("lbproxy_host_tunnels_active", "Open upgraded connections to a host");
  auto& host_tunnels_total =
      counter("lbproxy_host_tunnels_total", "Upgraded connections opened to a host");
  auto& host_tunnel_bytes = counter("lbproxy_host_tunnel_bytes_total",
                                    "Bytes through closed tunnels to a host, by direction");
  auto& host_idle = gauge("lbproxy_host_idle_connections", "Idle pooled connections to a host");
  auto& host_healthy = gauge("lbproxy_host_healthy", "1 when the host passes its health checks");
  auto& host_usable = gauge("lbproxy_host_usable", "1 when the host takes new requests");
  auto& host_admin = gauge("lbproxy_host_admin_state", "1 for the host's current admin state");
  auto& host_weight = gauge("lbproxy_host_weight", "Configured weight of a host");
  auto& host_ejected = gauge("lbproxy_host_ejected", "1 while outlier detection ejects the host");
  auto& host_ejections =
      counter("lbproxy_host_ejections_total", "Outlier ejections of a host since it was added");
  auto& checks =
      counter("lbproxy_health_checks_total", "Active health check results per host, by result");
  for (const auto& c : in.snapshot->clusters) {
    for (const auto& h : c.hosts) {
      const control::MergedReports::Host& merged = in.reports.host(h.get());
      const uint64_t active = merged.active_requests, idle = merged.idle_connections;
      const Totals& t = merged.report.totals;
      Labels base{{"cluster", c.config.name}, {"host", h->id}};
      for (size_t i = 0; i < kStatusClasses; ++i) {
        Labels lb = base;
        lb["code_class"] = statusClassName(i);
        host_requests.Add(lb).Increment(static_cast<double>(t.counters.responses[i]));
      }
      host_duration.Add(base, bounds())
          .ObserveMultiple(bucketIncrements(t), t.counters.latency_sum_seconds);
      for (size_t i = 0; i < kUpstreamReasons; ++i) {
        Labels lb = base;
        lb["reason"] = upstreamReasonName(i);
        host_errors.Add(lb).Increment(static_cast<double>(t.counters.upstream_errors[i]));
      }
      host_active.Add(base).Set(static_cast<double>(active));
      addTunnels(t.tunnels, base, host_tunnels, host_tunnels_total, host_tunnel_bytes);
      host_idle.Add(base).Set(static_cast<double>(idle));
      host_healthy.Add(base).Set(h->health.load() == upstream::Health::kHealthy ? 1 : 0);
      host_usable.Add(base).Set(h->usable() ? 1 : 0);
      host_weight.Add(base).Set(h->weight.load());
      host_ejected.Add(base).Set(h->ejected.load() ? 1 : 0);
      for (auto s : {upstream::AdminState::kReady, upstream::AdminState::kDrain,
                     upstream::AdminState::kMaint}) {
        Labels lb = base;
        lb["state"] = upstream::adminStateName(s);
        host_admin.Add(lb).Set(h->admin.load() == s ? 1 : 0);
      }
      auto extra = in.host_extra.find(c.config.name + "/" + h->id);
      control::HostExtra e = extra != in.host_extra.end() ? extra->second : control::HostExtra{};
      host_ejections.Add(base).Increment(e.ejections);
      if (c.config.health_check.enabled) {
        for (size_t i = 0; i < health::kCheckResults; ++i) {
          Labels lb = base;
          lb["result"] = health::checkResultName(static_cast<health::CheckResult>(i));
          checks.Add(lb).Increment(static_cast<double>(e.check_results[i]));
        }
      }
    }
  }

  ProcessStats p = readProcessStats();
  counter("process_cpu_seconds_total", "User and system CPU time spent in seconds")
      .Add({})
      .Increment(p.cpu_seconds);
  gauge("process_resident_memory_bytes", "Resident memory size in bytes")
      .Add({})
      .Set(p.resident_bytes);
  gauge("process_virtual_memory_bytes", "Virtual memory size in bytes")
      .Add({})
      .Set(p.virtual_bytes);
  gauge("process_open_fds", "Open file descriptors").Add({}).Set(p.open_fds);
  gauge("process_max_fds", "Maximum number of open file descriptors").Add({}).Set(p.max_fds);
  gauge("process_threads", "OS threads in the process").Add({}).Set(p.threads);
  gauge("process_start_time_seconds", "Start time of the process since the Unix epoch in seconds")
      .Add({})
      .Set(static_cast<double>(in.started_unix));

  prometheus::TextSerializer serializer;
  return serializer.Serialize(registry.Collect());
}

}  // namespace lb::admin
