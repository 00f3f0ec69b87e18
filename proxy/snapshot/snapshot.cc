#include "proxy/snapshot/snapshot.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "config/values.h"
#include "proxy/ratelimit/rate_limiter.h"
#include "proxy/tls/client_context.h"
#include "proxy/tls/server_context.h"
#include "proxy/upstream/load_balancer.h"

namespace lb::snapshot {

namespace {

// The previous snapshot's table when the route kept its name and limit (a reload or a
// runtime change must not hand every client a fresh burst), else a new one.
std::shared_ptr<ratelimit::RateLimiter> rateLimiterFor(const config::RouteConfig& r,
                                                       const Snapshot* previous) {
  if (previous)
    for (const auto& l : previous->listeners)
      for (const auto& old : l.routes.entries())
        if (old.name == r.name && old.rate_limit == r.rate_limit && old.rate_limiter)
          return old.rate_limiter;
  const config::RateLimitConfig& rl = r.rate_limit;
  const uint32_t burst = rl.burst ? rl.burst : rl.requests;
  const uint32_t keys = rl.key == config::RateLimitConfig::Key::kRoute ? 1 : rl.max_keys;
  return std::make_shared<ratelimit::RateLimiter>(
      rl.requests, static_cast<uint64_t>(rl.period.count()), burst, keys);
}

http::HeaderEdits editsOf(const config::HeaderEditsConfig& c) {
  http::HeaderEdits e;
  for (const auto& [name, value] : c.set) {
    e.set.push_back({name, value});
    if (value.find("${") != std::string::npos) e.templated = true;
  }
  e.remove = c.remove;
  return e;
}

// What follows name=value in a sticky cookie's Set-Cookie (RFC 6265 4.1.1).
std::string stickyAttributes(const config::StickyConfig& st) {
  std::string out = "; Path=" + st.path;
  if (!st.domain.empty()) out += "; Domain=" + st.domain;
  if (st.ttl.count() > 0) out += "; Max-Age=" + std::to_string((st.ttl.count() + 999) / 1000);
  if (st.secure) out += "; Secure";
  if (st.http_only) out += "; HttpOnly";
  switch (st.same_site) {
    case config::StickyConfig::SameSite::kLax:
      out += "; SameSite=Lax";
      break;
    case config::StickyConfig::SameSite::kStrict:
      out += "; SameSite=Strict";
      break;
    case config::StickyConfig::SameSite::kNone:
      out += "; SameSite=None";
      break;
  }
  return out;
}

}  // namespace

std::shared_ptr<upstream::HostState> HostRegistry::get(const config::ClusterConfig& cluster,
                                                       const config::HostConfig& h) {
  auto& slot = hosts_[cluster.name + "/" + h.id];
  if (!slot || slot->address != h.address) {
    slot = std::make_shared<upstream::HostState>();
    slot->cluster = cluster.name;
    slot->id = h.id;
    slot->address = h.address;
    slot->sticky_token = upstream::hashKey(cluster.name + "/" + h.id);
    slot->health.store(cluster.health_check.enabled ? upstream::Health::kChecking
                                                    : upstream::Health::kHealthy);
    slot->ramp_start_ms.store(upstream::steadyMillis());
  }
  if (!cluster.health_check.enabled &&
      slot->health.load(std::memory_order_relaxed) != upstream::Health::kHealthy)
    slot->health.store(upstream::Health::kHealthy);  // checks were turned off by a reload
  slot->weight.store(h.weight, std::memory_order_relaxed);
  slot->ramp_ms.store(cluster.slow_start.count(), std::memory_order_relaxed);
  return slot;
}

std::shared_ptr<upstream::HostState> HostRegistry::find(const std::string& cluster,
                                                        const std::string& id) const {
  auto it = hosts_.find(cluster + "/" + id);
  return it == hosts_.end() ? nullptr : it->second;
}

void HostRegistry::prune(const Snapshot& snapshot) {
  std::map<std::string, std::shared_ptr<upstream::HostState>> kept;
  for (const auto& c : snapshot.clusters)
    for (const auto& h : c.hosts) kept[c.config.name + "/" + h->id] = h;
  hosts_ = std::move(kept);
}

static bool toSockaddr(const std::string& address, sockaddr_storage* out, socklen_t* len) {
  auto hp = config::parseHostPort(address, false);
  if (!hp) return false;
  std::memset(out, 0, sizeof(*out));
  if (hp->ipv6) {
    auto* sa = reinterpret_cast<sockaddr_in6*>(out);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(hp->port);
    if (inet_pton(AF_INET6, hp->host.c_str(), &sa->sin6_addr) != 1) return false;
    *len = sizeof(sockaddr_in6);
  } else {
    auto* sa = reinterpret_cast<sockaddr_in*>(out);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(hp->port);
    if (inet_pton(AF_INET, hp->host.c_str(), &sa->sin_addr) != 1) return false;
    *len = sizeof(sockaddr_in);
  }
  return true;
}

static bool sameTls(const ListenerSnapshot& old, const config::ListenerConfig& l) {
  const config::TlsConfig& a = old.tls_config;
  const config::TlsConfig& b = l.tls;
  if (!old.tls || old.http2.enabled != l.http2.enabled || a.min_version != b.min_version ||
      a.session_tickets != b.session_tickets || a.ticket_key_rotation != b.ticket_key_rotation ||
      a.certificates.size() != b.certificates.size())
    return false;
  for (size_t i = 0; i < a.certificates.size(); ++i)
    if (a.certificates[i].cert != b.certificates[i].cert ||
        a.certificates[i].key != b.certificates[i].key)
      return false;
  return true;
}

namespace {

// The route entry's form of a destination; a subset is found among the snapshot's (or added).
router::RouteEntry::Destination destinationOf(const config::DestinationConfig& d, Snapshot& snap) {
  router::RouteEntry::Destination out;
  out.weight = d.weight;
  out.label = d.label();
  out.sticky_token = upstream::hashKey(out.label);
  for (uint32_t i = 0; i < snap.clusters.size(); ++i)
    if (snap.clusters[i].config.name == d.cluster) out.cluster_index = i;
  if (d.subset.empty()) return out;
  for (size_t i = 0; i < snap.subsets.size(); ++i)
    if (snap.subsets[i].cluster == out.cluster_index && snap.subsets[i].labels == d.subset)
      out.subset_index = static_cast<int32_t>(i);
  if (out.subset_index < 0) {
    SubsetSnapshot subset;
    subset.cluster = out.cluster_index;
    subset.labels = d.subset;
    const config::ClusterConfig& c = snap.clusters[out.cluster_index].config;
    for (uint32_t h = 0; h < c.hosts.size(); ++h)
      if (d.holds(c.hosts[h])) subset.hosts.push_back(h);
    out.subset_index = static_cast<int32_t>(snap.subsets.size());
    snap.subsets.push_back(std::move(subset));
  }
  // A subset without hosts takes no share: the others serve its traffic until it has some.
  if (snap.subsets[static_cast<size_t>(out.subset_index)].hosts.empty()) out.weight = 0;
  return out;
}

}  // namespace

std::shared_ptr<const Snapshot> buildSnapshot(const config::ProxyConfig& cfg, uint64_t version,
                                              HostRegistry& registry, std::string* error,
                                              const Snapshot* previous, bool reread_tls) {
  auto snap = std::make_shared<Snapshot>();
  snap->version = version;
  snap->metrics_enabled = cfg.metrics.enabled;
  for (const auto& c : cfg.clusters) {
    ClusterSnapshot cs;
    cs.config = c;
    for (const auto& h : c.hosts) {
      auto state = registry.get(c, h);
      if (state->sockaddr_len == 0 &&
          !toSockaddr(h.address, &state->sockaddr, &state->sockaddr_len)) {
        *error = "cluster " + c.name + " host " + h.id + ": invalid address " + h.address;
        return nullptr;
      }
      cs.hosts.push_back(std::move(state));
    }
    if (c.tls.enabled && previous && !reread_tls) {
      for (const auto& old : previous->clusters)
        if (old.config.name == c.name && old.tls && old.tls->sameAs(c.tls)) cs.tls = old.tls;
    }
    if (c.tls.enabled && !cs.tls) {
      std::string tls_error;
      cs.tls = tls::ClientContext::build(c.tls, &tls_error);
      if (!cs.tls) {
        *error = "cluster " + c.name + " tls: " + tls_error;
        return nullptr;
      }
    }
    snap->clusters.push_back(std::move(cs));
  }
  for (const auto& l : cfg.listeners) {
    ListenerSnapshot ls;
    ls.name = l.name;
    ls.address = l.listen;
    ls.limits = {l.max_request_line, l.max_header_bytes, l.max_headers};
    ls.request_headers_timeout = l.request_headers_timeout;
    ls.proxy_protocol = l.proxy_protocol;
    for (const std::string& net : l.proxy_protocol.trusted)
      if (auto parsed = common::parseIpNetwork(net)) ls.proxy_trusted.push_back(*parsed);
    ls.idle_timeout = l.idle_timeout;
    ls.max_body_bytes = l.max_body_bytes;
    ls.http2 = l.http2;
    ls.tls_config = l.tls;
    if (l.tls.enabled && previous && !reread_tls) {
      for (const auto& old : previous->listeners)
        if (old.name == l.name && sameTls(old, l)) ls.tls = old.tls;
    }
    if (l.tls.enabled && !ls.tls) {
      // Certificates are read here, so a reload picks up renewed files.
      std::string tls_error;
      ls.tls = tls::ServerContext::build(l.tls, l.http2.enabled, l.name, &tls_error);
      if (!ls.tls) {
        *error = "listener " + l.name + ": " + tls_error;
        return nullptr;
      }
    }
    for (const auto& r : l.routes) {
      router::RouteEntry e;
      e.host = r.match.host;
      e.path_prefix = r.match.path_prefix;
      e.methods = r.match.methods;
      e.headers = router::compileConditions(r.match.headers);
      e.cookies = router::compileConditions(r.match.cookies);
      e.query = router::compileConditions(r.match.query);
      e.conditional = r.match.conditional();
      e.timeout = r.timeout;
      e.upgrades = r.upgrades;
      e.tunnel_idle_timeout = r.tunnel_idle_timeout;
      e.retry = r.retry;
      e.rate_limit = r.rate_limit;
      e.sticky = r.sticky;
      e.redirect = r.redirect;
      e.response = r.response;
      e.request_headers = editsOf(r.request_headers);
      e.response_headers = editsOf(r.response_headers);
      e.json_errors = r.json_errors;
      e.compression = r.compression;
      if (r.sticky.enabled) e.sticky_attributes = stickyAttributes(r.sticky);
      if (r.rate_limit.enabled) e.rate_limiter = rateLimiterFor(r, previous);
      e.name = r.name;
      e.stats_index = static_cast<uint32_t>(snap->routes.size());
      snap->routes.push_back(r.name);
      for (const config::DestinationConfig& d : r.destinations)
        e.destinations.push_back(destinationOf(d, *snap));
      ls.routes.add(std::move(e));
    }
    snap->listeners.push_back(std::move(ls));
  }
  return snap;
}

}  // namespace lb::snapshot
