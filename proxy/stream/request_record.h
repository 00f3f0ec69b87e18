// The end of one client request, whatever protocol carried it: route and host statistics,
// passive outlier detection, per-listener protocol counters and the JSON access-log line.
// Worker thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "proxy/http/error.h"
#include "proxy/http/message.h"
#include "proxy/stats/listener_counters.h"

namespace lb::router {
struct RouteEntry;
}

namespace lb::stream {

class WorkerContext;
struct WorkerCluster;
struct WorkerView;

struct ExchangeOutcome;

struct RequestRecord {
  const WorkerView* view = nullptr;
  const router::RouteEntry* route = nullptr;  // null: refused before routing
  WorkerCluster* cluster = nullptr;
  std::string_view destination;  // the route destination's label ("" before routing)
  const ExchangeOutcome* outcome = nullptr;
  const http::RequestHead* request = nullptr;
  http::Error client_error;  // the error the client side answered with, if any
  int status = 0;
  bool response_started = false;  // a response head from upstream reached the client
  std::string_view request_id;
  std::string_view client_ip;
  std::string_view listener;
  stats::ClientProtocol protocol = stats::ClientProtocol::kHttp1;
  stats::TlsVersion tls = stats::TlsVersion::kNone;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  std::string_view encoding;  // the content coding lbproxy gave the body ("" none)
  std::chrono::steady_clock::time_point started_at;
  // An upgraded request: its latency is the time to the 101, its bytes are the tunnel's.
  bool tunnel = false;
  std::chrono::steady_clock::time_point tunnel_at;
};

void recordRequest(WorkerContext& worker, stats::ListenerCounters& counters,
                   const RequestRecord& r);
// The backend switched protocols: an open tunnel on the route and on the host, until the
// request is recorded.
void recordTunnelOpened(const WorkerView& view, const router::RouteEntry& route,
                        WorkerCluster& cluster, const ExchangeOutcome& outcome);

}  // namespace lb::stream
