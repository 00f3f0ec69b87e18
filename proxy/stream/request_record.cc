#include "proxy/stream/request_record.h"

#include <cstdio>
#include <ctime>
#include <string>

#include "proxy/log/access_log.h"
#include "proxy/router/route_table.h"
#include "proxy/snapshot/snapshot.h"
#include "proxy/stats/traffic_stats.h"
#include "proxy/stream/exchange.h"
#include "proxy/stream/worker_context.h"

namespace lb::stream {

namespace {

void writeAccessLog(WorkerContext& worker, const RequestRecord& r, const http::Error& error,
                    std::chrono::steady_clock::time_point now) {
  const http::RequestHead& req = *r.request;
  const ExchangeOutcome& outcome = *r.outcome;
  auto wall = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(wall);
  int millis = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(wall.time_since_epoch()).count() %
      1000);
  std::tm tm;
  gmtime_r(&secs, &tm);
  char time_buf[64];
  std::snprintf(time_buf, sizeof(time_buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                millis);
  std::string_view trace_id;
  if (const std::string* tp = req.find("traceparent"); tp && tp->size() >= 35)
    trace_id = std::string_view(*tp).substr(3, 32);
  auto ms = [](std::chrono::steady_clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
  };
  std::string line;
  line.reserve(384);
  line.append("{\"time\":\"").append(time_buf);
  line.append("\",\"request_id\":\"").append(r.request_id);
  line.append("\",\"trace_id\":\"");
  log::appendJsonEscaped(&line, trace_id);
  line.append("\",\"client\":\"").append(r.client_ip);
  line.append("\",\"listener\":\"").append(r.listener);
  line.append("\",\"route\":\"");
  if (r.route) log::appendJsonEscaped(&line, r.route->name);
  line.append("\",\"protocol\":\"")
      .append(stats::clientProtocolName(static_cast<size_t>(r.protocol)));
  line.append("\",\"tls\":\"");
  if (r.tls != stats::TlsVersion::kNone)
    line.append(stats::tlsVersionName(static_cast<size_t>(r.tls)));
  line.append("\",\"method\":\"");
  log::appendJsonEscaped(&line, req.method);
  line.append("\",\"host\":\"");
  log::appendJsonEscaped(&line, req.authority);
  line.append("\",\"path\":\"");
  log::appendJsonEscaped(&line, req.path);
  line.append("\",\"status\":").append(std::to_string(r.status));
  line.append(",\"bytes_in\":").append(std::to_string(r.bytes_in));
  line.append(",\"bytes_out\":").append(std::to_string(r.bytes_out));
  line.append(",\"encoding\":\"").append(r.encoding).append("\"");
  line.append(",\"cluster\":\"").append(r.cluster ? r.cluster->config->config.name : "");
  line.append("\",\"destination\":\"");
  log::appendJsonEscaped(&line, r.destination);
  line.append("\",\"upstream\":\"").append(outcome.upstream_host);
  char num[64];
  std::snprintf(num, sizeof(num), "\",\"upstream_time_ms\":%.3f", ms(outcome.upstream_time));
  line.append(num);
  std::snprintf(num, sizeof(num), ",\"queue_time_ms\":%.3f", ms(outcome.queue_time));
  line.append(num);
  std::snprintf(num, sizeof(num), ",\"total_time_ms\":%.3f", ms(now - r.started_at));
  line.append(num);
  line.append(",\"retries\":")
      .append(std::to_string(outcome.attempts > 0 ? outcome.attempts - 1 : 0));
  line.append(",\"error\":\"").append(error ? http::labelFor(error.code) : "");
  line.append("\",\"error_detail\":\"");
  if (error) log::appendJsonEscaped(&line, error.detail);
  line.append("\"}\n");
  worker.appendAccessLog(line);
}

}  // namespace

void recordRequest(WorkerContext& worker, stats::ListenerCounters& counters,
                   const RequestRecord& r) {
  auto now = worker.loop().now();
  const bool metrics = r.view->snapshot->metrics_enabled;
  const int64_t second =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  // A tunnel's life is not a response time: its latency sample ends at the 101.
  const uint64_t micros =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                (r.tunnel ? r.tunnel_at : now) - r.started_at)
                                .count());
  const ExchangeOutcome& outcome = *r.outcome;
  // A connect failure that a retry got past still counts as the request's upstream error.
  const http::Error& error = r.client_error ? r.client_error : outcome.last_error;
  const int reason = error ? stats::upstreamReasonIndex(error.code) : -1;
  const uint32_t retries = outcome.attempts > 0 ? outcome.attempts - 1 : 0;
  counters.countRequest(r.protocol, r.tls);
  if (r.route && metrics) {
    stats::TrafficStats& route = *r.view->route_stats[r.route->stats_index];
    route.recordRequest(second, r.status, micros, reason, retries);
    if (r.tunnel) route.tunnelClosed(r.bytes_in, r.bytes_out);
  }
  if (r.cluster && !outcome.tried.empty()) {
    WorkerHost& host = *r.cluster->locals[outcome.tried.back()];
    // Connect and TLS failures (nothing reached the backend) were counted on the host when
    // they happened.
    const bool connect_failed = error.code == http::ErrorCode::kConnectFailed ||
                                error.code == http::ErrorCode::kUpstreamTls;
    if (metrics) {
      host.stats.recordRequest(second, r.status, micros, connect_failed ? -1 : reason, 0);
      if (r.tunnel) host.stats.tunnelClosed(r.bytes_in, r.bytes_out);
    }
    if (!connect_failed && r.status != 499) {
      const bool server_error = (r.response_started && r.status >= 500) ||
                                (error && error.source == http::ErrorSource::kUpstream);
      worker.reportHostResult(host, r.cluster->config->config.outlier_detection, server_error,
                              false);
    }
  }
  if (worker.accessLogEnabled()) writeAccessLog(worker, r, error, now);
}

void recordTunnelOpened(const WorkerView& view, const router::RouteEntry& route,
                        WorkerCluster& cluster, const ExchangeOutcome& outcome) {
  if (!view.snapshot->metrics_enabled) return;
  view.route_stats[route.stats_index]->tunnelOpened();
  if (!outcome.tried.empty()) cluster.locals[outcome.tried.back()]->stats.tunnelOpened();
}

}  // namespace lb::stream
