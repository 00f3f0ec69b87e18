// The immutable view of the configuration that workers serve from. Built on the main thread
// from a validated model; workers hold a shared_ptr<const Snapshot> and never change it.
// Host runtime state (HostState) is shared across snapshots, found by cluster and host id.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/address.h"
#include "config/model.h"
#include "proxy/http/head_limits.h"
#include "proxy/router/route_table.h"
#include "proxy/upstream/host.h"

namespace lb::tls {
class ClientContext;
class ServerContext;
}  // namespace lb::tls

namespace lb::snapshot {

struct ClusterSnapshot {
  config::ClusterConfig config;  // hosts list included, for reference
  std::vector<std::shared_ptr<upstream::HostState>> hosts;
  std::shared_ptr<const tls::ClientContext> tls;  // null: plain TCP to the hosts
};

// The hosts of a cluster whose labels hold every pair of `labels` (a route destination's
// subset), as indices into the cluster's hosts.
struct SubsetSnapshot {
  uint32_t cluster = 0;
  std::map<std::string, std::string> labels;
  std::vector<uint32_t> hosts;
};

struct ListenerSnapshot {
  std::string name;
  std::string address;
  http::HeadLimits limits;
  config::Duration request_headers_timeout;
  config::Duration idle_timeout;
  uint64_t max_body_bytes = 0;
  router::RouteTable routes;
  std::shared_ptr<const tls::ServerContext> tls;  // null: plain TCP
  config::TlsConfig tls_config;
  config::Http2Config http2;
  config::ProxyProtocolConfig proxy_protocol;
  std::vector<common::IpNetwork> proxy_trusted;  // proxy_protocol.trusted, parsed
};

struct Snapshot {
  uint64_t version = 0;  // bumped by every rebuild (reload or runtime change)
  std::vector<ListenerSnapshot> listeners;
  std::vector<ClusterSnapshot> clusters;
  std::vector<SubsetSnapshot> subsets;  // every distinct one the routes name
  std::vector<std::string> routes;      // route names, by RouteEntry::stats_index
  bool metrics_enabled = true;
};

// Keeps HostState objects by "cluster/host-id" so a rebuilt snapshot reuses them.
// Main thread only.
class HostRegistry {
 public:
  // The state for this host id, new if the id is new or its address changed. A new host
  // starts `checking` when the cluster has active health checks, else healthy.
  std::shared_ptr<upstream::HostState> get(const config::ClusterConfig& cluster,
                                           const config::HostConfig& h);
  std::shared_ptr<upstream::HostState> find(const std::string& cluster,
                                            const std::string& id) const;
  // Forgets hosts that are not in the snapshot.
  void prune(const Snapshot& snapshot);

 private:
  std::map<std::string, std::shared_ptr<upstream::HostState>> hosts_;
};

// Returns nullptr and sets *error when a host address cannot be resolved to a socket address,
// a TLS listener's certificates or a cluster's TLS files cannot be loaded. With `previous`,
// routes whose rate limit is unchanged keep their tables (their buckets), and, unless
// `reread_tls` (a reload), a listener whose TLS settings are unchanged keeps its TLS context
// instead of reading the files again, and so does a cluster whose TLS settings and files are
// unchanged.
std::shared_ptr<const Snapshot> buildSnapshot(const config::ProxyConfig& cfg, uint64_t version,
                                              HostRegistry& registry, std::string* error,
                                              const Snapshot* previous = nullptr,
                                              bool reread_tls = false);

}  // namespace lb::snapshot
