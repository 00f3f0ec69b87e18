#include "config/loader.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <sstream>
#include <string_view>

#include "config/tls_files.h"
#include "config/yaml_reader.h"

namespace lb::config {

std::string ConfigError::toString() const {
  std::ostringstream out;
  out << file << ":" << mark.line << ":" << mark.column << ": ";
  if (!path.empty()) out << path << ": ";
  out << message;
  return out.str();
}

namespace {

// A relative certificate path is taken from the config file's directory, so a config and its
// certificates can move together.
std::string resolvePath(const std::string& path, const std::string& base_dir) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
  return base_dir + "/" + path;
}

void readHost(Reader& r, const YAML::Node& node, const std::string& path, HostConfig* host) {
  host->mark = markOf(node);
  if (!r.expectMap(node, path, {"id", "address", "weight", "labels"})) return;
  r.string(node, "id", path, &host->id, true);
  r.string(node, "address", path, &host->address, true);
  r.number(node, "weight", path, &host->weight, kMinWeight, kMaxWeight);
  if (YAML::Node labels = node["labels"]) {
    std::string lpath = Reader::join(path, "labels");
    if (!labels.IsMap()) {
      r.error(labels, lpath, "expected a mapping of label names to values");
    } else {
      for (auto it = labels.begin(); it != labels.end(); ++it) {
        std::string value;
        if (r.scalar(it->second, lpath + "." + it->first.Scalar(), &value))
          host->labels[it->first.Scalar()] = value;
      }
    }
  }
  if (!host->address.empty() && !parseHostPort(host->address, false))
    r.error(node["address"], Reader::join(path, "address"),
            "invalid address " + quoted(host->address) + " (expected IP:PORT or [IPv6]:PORT)");
}

// "200", "200-399": one inclusive range of statuses.
bool parseStatusRange(const std::string& text, std::pair<int, int>* out) {
  auto num = [](std::string_view s, int* v) {
    if (s.size() != 3 || s.find_first_not_of("0123456789") != std::string_view::npos) return false;
    *v = std::stoi(std::string(s));
    return *v >= 100 && *v <= 599;
  };
  std::string_view t = text;
  size_t dash = t.find('-');
  if (dash == std::string_view::npos) {
    if (!num(t, &out->first)) return false;
    out->second = out->first;
    return true;
  }
  return num(t.substr(0, dash), &out->first) && num(t.substr(dash + 1), &out->second) &&
         out->first <= out->second;
}

void readHealthCheck(Reader& r, const YAML::Node& node, const std::string& path,
                     HealthCheckConfig* hc) {
  if (!r.expectMap(node, path,
                   {"path", "host", "interval", "timeout", "healthy_threshold",
                    "unhealthy_threshold", "expected_statuses"}))
    return;
  hc->enabled = true;
  r.string(node, "path", path, &hc->path, false);
  if (!hc->path.starts_with("/"))
    r.error(node["path"], Reader::join(path, "path"), "must start with /");
  r.string(node, "host", path, &hc->host, false);
  r.duration(node, "interval", path, &hc->interval);
  r.duration(node, "timeout", path, &hc->timeout);
  r.number(node, "healthy_threshold", path, &hc->healthy_threshold, 1, 100);
  r.number(node, "unhealthy_threshold", path, &hc->unhealthy_threshold, 1, 100);
  if (hc->timeout > hc->interval)
    r.error(node["timeout"] ? node["timeout"] : node, Reader::join(path, "timeout"),
            "must not be longer than interval");
  if (YAML::Node st = node["expected_statuses"]) {
    std::string spath = Reader::join(path, "expected_statuses");
    if (!st.IsSequence() || st.size() == 0) {
      r.error(st, spath, "expected a non-empty list such as [200, \"200-399\"]");
    } else {
      hc->expected_statuses.clear();
      for (size_t i = 0; i < st.size(); ++i) {
        std::string text;
        std::pair<int, int> range;
        if (!r.scalar(st[i], Reader::index(spath, i), &text)) continue;
        if (parseStatusRange(text, &range))
          hc->expected_statuses.push_back(range);
        else
          r.error(st[i], Reader::index(spath, i),
                  "invalid status " + quoted(text) + " (a code 100-599, or a range like 200-399)");
      }
    }
  }
}

void readOutlier(Reader& r, const YAML::Node& node, const std::string& path, OutlierConfig* o) {
  if (!r.expectMap(node, path,
                   {"consecutive_5xx", "consecutive_connect_failures", "base_ejection_time",
                    "max_ejection_time", "max_ejection_percent"}))
    return;
  o->enabled = true;
  r.number(node, "consecutive_5xx", path, &o->consecutive_5xx, 1, 1000);
  r.number(node, "consecutive_connect_failures", path, &o->consecutive_connect_failures, 1, 1000);
  r.duration(node, "base_ejection_time", path, &o->base_ejection_time);
  r.duration(node, "max_ejection_time", path, &o->max_ejection_time);
  r.number(node, "max_ejection_percent", path, &o->max_ejection_percent, 0, 100);
  if (o->max_ejection_time < o->base_ejection_time)
    r.error(node["max_ejection_time"] ? node["max_ejection_time"] : node,
            Reader::join(path, "max_ejection_time"), "must not be shorter than base_ejection_time");
}

// RFC 9110 5.1: a token.
bool validHeaderName(const std::string& name) {
  if (name.empty()) return false;
  for (unsigned char c : name) {
    const bool tchar = std::isalnum(c) || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
    if (!tchar || c == 0) return false;
  }
  return true;
}

bool validHostPattern(const std::string& host) {
  std::string_view name = host;
  if (name.starts_with("*.")) name.remove_prefix(2);
  if (name.empty()) return false;
  for (char ch : name) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
              ch == ':' || ch == '[' || ch == ']';
    if (!ok) return false;
  }
  return true;
}

// `tls:` of a cluster: files are checked here as the proxy will load them, so a bad bundle or
// client key is a config error with its position, never a failed request later.
void readUpstreamTls(Reader& r, const YAML::Node& node, const std::string& path,
                     const std::string& base_dir, UpstreamTlsConfig* t) {
  t->mark = markOf(node);
  if (!r.expectMap(node, path,
                   {"enabled", "verify", "ca_file", "server_name", "min_version",
                    "client_certificate", "session_reuse"}))
    return;
  t->enabled = true;  // the block turns it on unless it says enabled: false
  r.boolean(node, "enabled", path, &t->enabled);
  r.boolean(node, "verify", path, &t->verify);
  r.boolean(node, "session_reuse", path, &t->session_reuse);
  r.string(node, "min_version", path, &t->min_version, false);
  if (t->min_version != "1.2" && t->min_version != "1.3")
    r.error(node["min_version"], Reader::join(path, "min_version"),
            "expected \"1.2\" or \"1.3\", got " + quoted(t->min_version) +
                " (older protocols are not offered)");
  r.string(node, "server_name", path, &t->server_name, false);
  if (!t->server_name.empty() &&
      (t->server_name.starts_with("*.") || !validHostPattern(t->server_name)))
    r.error(node["server_name"], Reader::join(path, "server_name"),
            "invalid server name " + quoted(t->server_name) +
                " (a lower-case DNS name or an IP address)");
  r.string(node, "ca_file", path, &t->ca_file, false);
  if (YAML::Node ca = node["ca_file"]) {
    t->ca_mark = markOf(ca);
    t->ca_file = resolvePath(t->ca_file, base_dir);
    std::string problem = checkCaFile(t->ca_file);
    if (!problem.empty()) r.error(ca, Reader::join(path, "ca_file"), problem);
  }
  if (!t->ca_file.empty() && !t->verify)
    r.error(node["verify"], Reader::join(path, "verify"),
            "ca_file is set but verify is false: remove one (an unverified backend can be "
            "impersonated)");
  if (YAML::Node cc = node["client_certificate"]) {
    const std::string cpath = Reader::join(path, "client_certificate");
    t->client_mark = markOf(cc);
    if (r.expectMap(cc, cpath, {"cert", "key"})) {
      r.string(cc, "cert", cpath, &t->client_cert, true);
      r.string(cc, "key", cpath, &t->client_key, true);
      if (!t->client_cert.empty() && !t->client_key.empty()) {
        t->client_cert = resolvePath(t->client_cert, base_dir);
        t->client_key = resolvePath(t->client_key, base_dir);
        std::string problem = checkCertificateFiles(t->client_cert, t->client_key);
        if (!problem.empty()) r.error(cc, cpath, problem);
      }
    }
  }
}

void readCluster(Reader& r, const YAML::Node& node, const std::string& path,
                 const std::string& base_dir, ClusterConfig* c) {
  c->mark = markOf(node);
  if (!r.expectMap(node, path,
                   {"name", "balancer", "hash_on", "connect_timeout", "idle_timeout",
                    "max_idle_per_host", "max_attempts", "health_check", "outlier_detection",
                    "slow_start", "tls", "send_proxy_protocol", "retry_budget", "limits", "hosts"}))
    return;
  if (YAML::Node tls = node["tls"])
    readUpstreamTls(r, tls, Reader::join(path, "tls"), base_dir, &c->tls);
  r.string(node, "name", path, &c->name, true);
  std::string balancer = "round_robin";
  r.string(node, "balancer", path, &balancer, false);
  if (balancer == "round_robin")
    c->balancer = BalancerKind::kRoundRobin;
  else if (balancer == "least_request")
    c->balancer = BalancerKind::kLeastRequest;
  else if (balancer == "random")
    c->balancer = BalancerKind::kRandom;
  else if (balancer == "ring_hash")
    c->balancer = BalancerKind::kRingHash;
  else
    r.error(node["balancer"], Reader::join(path, "balancer"),
            "unknown balancer " + quoted(balancer) +
                " (expected round_robin, least_request, random or ring_hash)");
  if (YAML::Node hash = node["hash_on"]) {
    std::string hpath = Reader::join(path, "hash_on");
    if (r.expectMap(hash, hpath, {"header", "cookie"})) {
      r.string(hash, "header", hpath, &c->hash_on.header, false);
      r.string(hash, "cookie", hpath, &c->hash_on.cookie, false);
      if (c->hash_on.header.empty() == c->hash_on.cookie.empty())
        r.error(hash, hpath, "set exactly one of header or cookie");
    }
  }
  if (c->balancer == BalancerKind::kRingHash && c->hash_on.header.empty() &&
      c->hash_on.cookie.empty())
    r.error(node, Reader::join(path, "hash_on"),
            "ring_hash needs hash_on: { header: ... } or { cookie: ... }");
  r.duration(node, "connect_timeout", path, &c->connect_timeout);
  r.duration(node, "idle_timeout", path, &c->idle_timeout);
  r.number(node, "max_idle_per_host", path, &c->max_idle_per_host, 0, 100000);
  r.number(node, "max_attempts", path, &c->max_attempts, 1, 10);
  if (YAML::Node hc = node["health_check"])
    readHealthCheck(r, hc, Reader::join(path, "health_check"), &c->health_check);
  if (YAML::Node od = node["outlier_detection"])
    readOutlier(r, od, Reader::join(path, "outlier_detection"), &c->outlier_detection);
  r.duration(node, "slow_start", path, &c->slow_start, true);
  if (YAML::Node limits = node["limits"]) {
    const std::string lpath = Reader::join(path, "limits");
    if (r.expectMap(
            limits, lpath,
            {"max_requests_per_host", "max_connections_per_host", "max_queued", "queue_timeout"})) {
      r.number(limits, "max_requests_per_host", lpath, &c->limits.max_requests_per_host, 0,
               1000000);
      r.number(limits, "max_connections_per_host", lpath, &c->limits.max_connections_per_host, 0,
               1000000);
      r.number(limits, "max_queued", lpath, &c->limits.max_queued, 0, 1000000);
      r.duration(limits, "queue_timeout", lpath, &c->limits.queue_timeout);
      if (c->limits.max_queued && !c->limits.any())
        r.error(limits["max_queued"], Reader::join(lpath, "max_queued"),
                "a queue needs a limit to wait for: set max_requests_per_host or "
                "max_connections_per_host");
    }
  }
  if (YAML::Node budget = node["retry_budget"]) {
    const std::string bpath = Reader::join(path, "retry_budget");
    if (r.expectMap(budget, bpath, {"percent", "min_concurrency"})) {
      r.number(budget, "percent", bpath, &c->retry_budget.percent, 0, 100);
      r.number(budget, "min_concurrency", bpath, &c->retry_budget.min_concurrency, 0, 100000);
    }
  }
  std::string send_proxy = "off";
  r.string(node, "send_proxy_protocol", path, &send_proxy, false);
  if (send_proxy == "v1")
    c->send_proxy_protocol = 1;
  else if (send_proxy == "v2")
    c->send_proxy_protocol = 2;
  else if (send_proxy != "off")
    r.error(node["send_proxy_protocol"], Reader::join(path, "send_proxy_protocol"),
            "unknown PROXY protocol version " + quoted(send_proxy) + " (expected v1, v2 or off)");
  YAML::Node hosts = node["hosts"];
  std::string hpath = Reader::join(path, "hosts");
  if (!hosts) {
    r.error(node, hpath, "missing required field");
  } else if (!hosts.IsSequence()) {
    r.error(hosts, hpath, "expected a list of hosts");
  } else {
    std::set<std::string> ids, addresses;
    for (size_t i = 0; i < hosts.size(); ++i) {
      HostConfig host;
      readHost(r, hosts[i], Reader::index(hpath, i), &host);
      if (!host.id.empty() && !ids.insert(host.id).second)
        r.error(hosts[i]["id"], Reader::index(hpath, i) + ".id",
                "duplicate host id " + quoted(host.id) + " in cluster " + quoted(c->name));
      if (!host.address.empty() && !addresses.insert(host.address).second)
        r.error(
            hosts[i]["address"], Reader::index(hpath, i) + ".address",
            "address " + quoted(host.address) + " is listed twice in cluster " + quoted(c->name));
      c->hosts.push_back(std::move(host));
    }
  }
}

// tchar (RFC 9110 5.6.2): a protocol name of an Upgrade field is a token.
bool isProtocolNameChar(unsigned char c) {
  return std::isalnum(c) ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

// `upgrades: [websocket]`: protocol names, compared without case; h2c is not tunnelled (an
// HTTP/2 client speaks HTTP/2 to the proxy itself).
void readUpgrades(Reader& r, const YAML::Node& node, const std::string& path, RouteConfig* route) {
  YAML::Node list = node["upgrades"];
  if (!list) return;
  const std::string lpath = Reader::join(path, "upgrades");
  if (!list.IsSequence()) {
    r.error(list, lpath, "expected a list of protocol names, e.g. [websocket]");
    return;
  }
  route->upgrades.clear();
  for (size_t i = 0; i < list.size(); ++i) {
    std::string name;
    const std::string ipath = Reader::index(lpath, i);
    if (!r.scalar(list[i], ipath, &name)) continue;
    bool token = !name.empty();
    for (char& c : name) {
      if (!isProtocolNameChar(static_cast<unsigned char>(c))) token = false;
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (!token) {
      r.error(list[i], ipath,
              "invalid protocol name " + quoted(name) + " (a token, e.g. websocket)");
    } else if (name == "h2c") {
      r.error(list[i], ipath,
              "h2c is not tunnelled: enable http2.cleartext on the listener instead");
    } else {
      route->upgrades.push_back(name);
    }
  }
}

void readRetry(Reader& r, const YAML::Node& node, const std::string& path, RetryConfig* retry) {
  if (!r.expectMap(node, path,
                   {"on", "statuses", "non_idempotent", "per_try_timeout", "buffer_body"}))
    return;
  if (YAML::Node on = node["on"]) {
    const std::string opath = Reader::join(path, "on");
    if (!on.IsSequence()) {
      r.error(on, opath, "expected a list such as [5xx, reset]");
    } else {
      for (size_t i = 0; i < on.size(); ++i) {
        std::string name;
        if (!r.scalar(on[i], Reader::index(opath, i), &name)) continue;
        if (name == "5xx")
          retry->on_5xx = true;
        else if (name == "gateway_error")
          retry->on_gateway_error = true;
        else if (name == "reset")
          retry->on_reset = true;
        else if (name == "timeout")
          retry->on_timeout = true;
        else
          r.error(on[i], Reader::index(opath, i),
                  "unknown retry condition " + quoted(name) +
                      " (expected 5xx, gateway_error, reset or timeout)");
      }
    }
  }
  if (YAML::Node st = node["statuses"]) {
    const std::string spath = Reader::join(path, "statuses");
    if (!st.IsSequence()) {
      r.error(st, spath, "expected a list of status codes such as [429]");
    } else {
      for (size_t i = 0; i < st.size(); ++i) {
        std::string text;
        std::pair<int, int> range;
        if (!r.scalar(st[i], Reader::index(spath, i), &text)) continue;
        if (text.size() == 3 && parseStatusRange(text, &range) && range.first >= 200)
          retry->statuses.push_back(range.first);
        else
          r.error(st[i], Reader::index(spath, i),
                  "invalid status " + quoted(text) + " (a final status code 200-599)");
      }
    }
  }
  r.boolean(node, "non_idempotent", path, &retry->non_idempotent);
  r.duration(node, "per_try_timeout", path, &retry->per_try_timeout);
  r.number(node, "buffer_body", path, &retry->buffer_body, 0, 16 * 1024 * 1024, true);
  if (!retry->any())
    r.error(node, Reader::join(path, "on"),
            "a retry policy needs a condition: on: [5xx, gateway_error, reset, timeout] or "
            "statuses");
}

// A list of conditions: [{ name: X-Canary, exact: "1" }, { name: debug, present: true }].
void readValueMatches(Reader& r, const YAML::Node& node, const std::string& path, const char* what,
                      std::vector<ValueMatch>* out) {
  if (!node.IsSequence()) {
    r.error(node, path,
            std::string("expected a list of ") + what +
                " conditions such as [{ name: X-Canary, exact: \"1\" }]");
    return;
  }
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string ipath = Reader::index(path, i);
    const YAML::Node& item = node[i];
    if (!r.expectMap(item, ipath, {"name", "exact", "prefix", "regex", "present"})) continue;
    ValueMatch m;
    m.mark = markOf(item);
    r.string(item, "name", ipath, &m.name, true);
    if (std::string_view(what) == "header" && !m.name.empty() && !validHeaderName(m.name))
      r.error(item["name"], Reader::join(ipath, "name"), "invalid header name " + quoted(m.name));
    int kinds = 0;
    for (const char* key : {"exact", "prefix", "regex"}) {
      if (!item[key]) continue;
      ++kinds;
      r.string(item, key, ipath, &m.value, false);
      m.kind = key[0] == 'e'   ? ValueMatch::Kind::kExact
               : key[0] == 'p' ? ValueMatch::Kind::kPrefix
                               : ValueMatch::Kind::kRegex;
    }
    if (item["present"]) {
      ++kinds;
      bool present = true;
      r.boolean(item, "present", ipath, &present);
      m.kind = present ? ValueMatch::Kind::kPresent : ValueMatch::Kind::kAbsent;
    }
    if (kinds != 1) {
      r.error(item, ipath, "set exactly one of exact, prefix, regex or present");
      continue;
    }
    if (m.kind == ValueMatch::Kind::kRegex) {
      // RE2: linear time in the input whatever the pattern, so a hostile header cannot make
      // a route lookup slow; checked here so that a bad pattern fails the load.
      RE2 re(m.value, RE2::Quiet);
      if (!re.ok())
        r.error(item["regex"], Reader::join(ipath, "regex"),
                "invalid regular expression " + quoted(m.value) + ": " + re.error());
    }
    out->push_back(std::move(m));
  }
}

void readMethods(Reader& r, const YAML::Node& node, const std::string& path,
                 std::vector<std::string>* out) {
  if (!node.IsSequence()) {
    r.error(node, path, "expected a list of methods such as [GET, HEAD]");
    return;
  }
  for (size_t i = 0; i < node.size(); ++i) {
    std::string method;
    if (!r.scalar(node[i], Reader::index(path, i), &method)) continue;
    bool token = !method.empty();
    for (char c : method) token = token && c >= 'A' && c <= 'Z';
    if (!token)
      r.error(node[i], Reader::index(path, i),
              "invalid method " + quoted(method) + " (upper-case, e.g. GET or POST)");
    else
      out->push_back(method);
  }
}

// "100/s", "600/m", "1000/h".
bool parseRate(const std::string& text, uint32_t* requests, Duration* period) {
  const size_t slash = text.find('/');
  if (slash == std::string::npos || slash == 0) return false;
  uint64_t n = 0;
  for (size_t i = 0; i < slash; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    n = n * 10 + static_cast<uint64_t>(text[i] - '0');
    if (n > 1000000000) return false;
  }
  const std::string unit = text.substr(slash + 1);
  if (unit == "s")
    *period = Duration(1000);
  else if (unit == "m")
    *period = Duration(60 * 1000);
  else if (unit == "h")
    *period = Duration(3600 * 1000);
  else
    return false;
  if (n == 0) return false;
  *requests = static_cast<uint32_t>(n);
  return true;
}

// `key: name` where the name is one of `names`: sets *out to its value.
template <typename E>
void choice(Reader& r, const YAML::Node& map, const char* key, const std::string& path,
            std::initializer_list<std::pair<const char*, E>> names, const char* expected, E* out) {
  YAML::Node node = map[key];
  std::string name;
  if (!node || !r.scalar(node, Reader::join(path, key), &name)) return;
  for (const auto& [n, value] : names) {
    if (name == n) {
      *out = value;
      return;
    }
  }
  r.error(node, Reader::join(path, key),
          "unknown value " + quoted(name) + " (expected " + expected + ")");
}

void readRateLimit(Reader& r, const YAML::Node& node, const std::string& path,
                   RateLimitConfig* rl) {
  if (!r.expectMap(node, path, {"rate", "burst", "key", "dry_run", "max_keys", "headers"})) return;
  rl->enabled = true;
  std::string rate;
  r.string(node, "rate", path, &rate, true);
  if (!rate.empty() && !parseRate(rate, &rl->requests, &rl->period))
    r.error(node["rate"], Reader::join(path, "rate"),
            "invalid rate " + quoted(rate) + " (requests per s, m or h, e.g. 100/s or 600/m)");
  r.number(node, "burst", path, &rl->burst, 1, 1000000000);
  r.number(node, "max_keys", path, &rl->max_keys, 1, 16 * 1024 * 1024);
  r.boolean(node, "dry_run", path, &rl->dry_run);
  choice(r, node, "headers", path, {{"limited", false}, {"always", true}}, "limited or always",
         &rl->headers_always);
  if (YAML::Node key = node["key"]) {
    const std::string kpath = Reader::join(path, "key");
    if (key.IsMap()) {
      if (r.expectMap(key, kpath, {"header"})) {
        r.string(key, "header", kpath, &rl->header, true);
        rl->key = RateLimitConfig::Key::kHeader;
        if (!rl->header.empty() && !validHeaderName(rl->header))
          r.error(key["header"], Reader::join(kpath, "header"),
                  "invalid header name " + quoted(rl->header));
      }
    } else {
      std::string name;
      if (r.scalar(key, kpath, &name)) {
        if (name == "client_address")
          rl->key = RateLimitConfig::Key::kClientAddress;
        else if (name == "route")
          rl->key = RateLimitConfig::Key::kRoute;
        else
          r.error(key, kpath,
                  "unknown key " + quoted(name) +
                      " (expected client_address, route, or { header: Name })");
      }
    }
  }
}

// `sticky: {cookie, to, ttl, path, domain, secure, http_only, same_site}`: what goes in the
// Set-Cookie header must be something a browser keeps (RFC 6265 4.1).
void readSticky(Reader& r, const YAML::Node& node, const std::string& path, StickyConfig* st) {
  if (!r.expectMap(node, path,
                   {"cookie", "to", "ttl", "path", "domain", "secure", "http_only", "same_site"}))
    return;
  st->enabled = true;
  r.string(node, "cookie", path, &st->cookie, true);
  if (!st->cookie.empty() && !validHeaderName(st->cookie))
    r.error(node["cookie"], Reader::join(path, "cookie"),
            "invalid cookie name " + quoted(st->cookie) + " (letters, digits and !#$%&'*+-.^_`|~)");
  choice(r, node, "to", path,
         {{"host", StickyConfig::To::kHost}, {"destination", StickyConfig::To::kDestination}},
         "host or destination", &st->to);
  r.duration(node, "ttl", path, &st->ttl, true);
  r.string(node, "path", path, &st->path, false);
  if (node["path"] &&
      (!st->path.starts_with("/") || std::any_of(st->path.begin(), st->path.end(), [](char c) {
        return c == ';' || static_cast<unsigned char>(c) < 0x21 || c == 0x7f;
      })))
    r.error(node["path"], Reader::join(path, "path"),
            "invalid cookie path " + quoted(st->path) + " (starts with /, no spaces or ;)");
  r.string(node, "domain", path, &st->domain, false);
  if (!st->domain.empty()) {
    const std::string_view bare = std::string_view(st->domain).substr(st->domain[0] == '.');
    if (bare.empty() || std::any_of(bare.begin(), bare.end(), [](char c) {
          return !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.');
        }))
      r.error(node["domain"], Reader::join(path, "domain"),
              "invalid cookie domain " + quoted(st->domain) + " (a lower-case host name)");
  }
  r.boolean(node, "secure", path, &st->secure);
  r.boolean(node, "http_only", path, &st->http_only);
  choice(r, node, "same_site", path,
         {{"lax", StickyConfig::SameSite::kLax},
          {"strict", StickyConfig::SameSite::kStrict},
          {"none", StickyConfig::SameSite::kNone}},
         "lax, strict or none", &st->same_site);
  if (YAML::Node ss = node["same_site"]) {
    // Browsers drop a SameSite=None cookie that is not Secure.
    if (st->same_site == StickyConfig::SameSite::kNone && !st->secure)
      r.error(ss, Reader::join(path, "same_site"),
              "none needs secure: true (browsers drop such a cookie)");
  }
}

std::string lowerCase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A media type as the config lists it: "type/subtype" or "type/*", HTTP tokens, no parameters.
bool validMediaRange(const std::string& t) {
  const size_t slash = t.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == t.size()) return false;
  const std::string type = t.substr(0, slash), sub = t.substr(slash + 1);
  return validHeaderName(type) && type != "*" && (sub == "*" || validHeaderName(sub));
}

void readCompression(Reader& r, const YAML::Node& node, const std::string& path,
                     CompressionConfig* c) {
  if (!r.expectMap(node, path,
                   {"encodings", "gzip_level", "brotli_quality", "brotli_window", "min_size",
                    "content_types"}))
    return;
  c->enabled = true;
  if (YAML::Node list = node["encodings"]) {
    const std::string lpath = Reader::join(path, "encodings");
    if (!list.IsSequence() || list.size() == 0) {
      r.error(list, lpath, "expected a non-empty list of br and gzip, the preferred first");
    } else {
      c->encodings.clear();
      for (size_t i = 0; i < list.size(); ++i) {
        std::string name;
        const std::string ipath = Reader::index(lpath, i);
        if (!r.scalar(list[i], ipath, &name)) continue;
        if (name != "br" && name != "gzip")
          r.error(list[i], ipath, "unknown encoding " + quoted(name) + " (br or gzip)");
        else if (std::find(c->encodings.begin(), c->encodings.end(), name) != c->encodings.end())
          r.error(list[i], ipath, quoted(name) + " is listed twice");
        else
          c->encodings.push_back(name);
      }
    }
  }
  r.number(node, "gzip_level", path, &c->gzip_level, 1, 9);
  r.number(node, "brotli_quality", path, &c->brotli_quality, 0, 11);
  r.number(node, "brotli_window", path, &c->brotli_window, 10, 24);
  r.number(node, "min_size", path, &c->min_size, 0, uint64_t{1} << 40, true);
  if (YAML::Node list = node["content_types"]) {
    const std::string lpath = Reader::join(path, "content_types");
    if (!list.IsSequence() || list.size() == 0) {
      r.error(list, lpath, "expected a non-empty list of media types, e.g. [text/html, text/*]");
    } else {
      c->content_types.clear();
      for (size_t i = 0; i < list.size(); ++i) {
        std::string type;
        const std::string ipath = Reader::index(lpath, i);
        if (!r.scalar(list[i], ipath, &type)) continue;
        type = lowerCase(type);
        if (!validMediaRange(type))
          r.error(list[i], ipath,
                  "invalid media type " + quoted(type) +
                      " (type/subtype or type/*, without parameters)");
        else
          c->content_types.push_back(type);
      }
    }
  }
}

// A field value lbproxy may send as it is: no CR, LF, NUL or other control character but tab.
bool validHeaderValue(const std::string& value) {
  return std::none_of(value.begin(), value.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
  });
}

// Fields lbproxy writes itself (framing, hop-by-hop, the forwarding fields, the request id):
// a route cannot set or remove them.
bool reservedHeader(const std::string& name, bool request) {
  static const char* const kBoth[] = {"content-length", "transfer-encoding", "connection",
                                      "keep-alive",     "upgrade",           "te",
                                      "trailer",        "proxy-connection",  "x-request-id"};
  static const char* const kRequest[] = {"host", "expect", "x-forwarded-for", "x-forwarded-proto",
                                         "x-forwarded-host"};
  const std::string lower = lowerCase(name);
  for (const char* n : kBoth)
    if (lower == n) return true;
  if (request)
    for (const char* n : kRequest)
      if (lower == n) return true;
  return false;
}

// `{ Name: value, ... }`: header fields, names checked as tokens and against what lbproxy owns.
// What is wrong with the ${name} variables of a header edit's value ("" nothing); the names
// are proxy/http/header_edits.h's EditVariables. `upstream` is known on responses only.
std::string variableProblem(const std::string& value, bool request) {
  static const char* const kNames[] = {"client_ip", "request_id", "host", "scheme", "route"};
  for (size_t at = value.find("${"); at != std::string::npos; at = value.find("${", at)) {
    const size_t close = value.find('}', at + 2);
    if (close == std::string::npos) return "unterminated ${ (variables are ${name})";
    const std::string name = value.substr(at + 2, close - at - 2);
    bool known = !request && name == "upstream";
    for (const char* n : kNames) known |= name == n;
    if (!known)
      return "unknown variable ${" + name + "} (client_ip, request_id, host, scheme, route" +
             (request ? "" : ", upstream") + ")";
    at = close + 1;
  }
  return "";
}

void readHeaderMap(Reader& r, const YAML::Node& node, const std::string& path, bool request,
                   bool variables, std::vector<std::pair<std::string, std::string>>* out) {
  if (!node.IsMap()) {
    r.error(node, path, "expected a mapping of header names to values, e.g. {X-Env: prod}");
    return;
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string name = it->first.Scalar();
    const std::string fpath = path + "." + name;
    std::string value;
    if (!validHeaderName(name))
      r.error(it->first, fpath, "invalid header name " + quoted(name));
    else if (reservedHeader(name, request))
      r.error(it->first, fpath, quoted(name) + " is lbproxy's to write; it cannot be set here");
    else if (r.scalar(it->second, fpath, &value)) {
      const std::string problem = variables ? variableProblem(value, request) : "";
      if (!validHeaderValue(value))
        r.error(it->second, fpath, "invalid header value (control characters)");
      else if (!problem.empty())
        r.error(it->second, fpath, problem);
      else
        out->emplace_back(name, value);
    }
  }
}

// `request_headers:` / `response_headers:` `{ set: {Name: value}, remove: [Name] }`.
void readHeaderEdits(Reader& r, const YAML::Node& node, const std::string& path, bool request,
                     HeaderEditsConfig* out) {
  if (!r.expectMap(node, path, {"set", "remove"})) return;
  if (YAML::Node set = node["set"])
    readHeaderMap(r, set, Reader::join(path, "set"), request, true, &out->set);
  if (YAML::Node remove = node["remove"]) {
    const std::string rpath = Reader::join(path, "remove");
    if (!remove.IsSequence()) {
      r.error(remove, rpath, "expected a list of header names");
      return;
    }
    for (size_t i = 0; i < remove.size(); ++i) {
      std::string name;
      if (!r.scalar(remove[i], Reader::index(rpath, i), &name)) continue;
      if (!validHeaderName(name))
        r.error(remove[i], Reader::index(rpath, i), "invalid header name " + quoted(name));
      else if (reservedHeader(name, request))
        r.error(remove[i], Reader::index(rpath, i),
                quoted(name) + " is lbproxy's to write; it cannot be removed here");
      else
        out->remove.push_back(name);
    }
  }
}

// `redirect: { scheme, host, port, path | prefix, strip_query, status }`.
void readRedirect(Reader& r, const YAML::Node& node, const std::string& path, RedirectConfig* rd) {
  if (!r.expectMap(node, path,
                   {"scheme", "host", "port", "path", "prefix", "strip_query", "status"}))
    return;
  rd->enabled = true;
  choice(r, node, "scheme", path, {{"http", std::string("http")}, {"https", std::string("https")}},
         "http or https", &rd->scheme);
  r.string(node, "host", path, &rd->host, false);
  if (node["host"] && (rd->host.empty() || !validHostPattern(rd->host) || rd->host[0] == '*'))
    r.error(node["host"], Reader::join(path, "host"),
            "invalid host " + quoted(rd->host) + " (a lower-case host name)");
  r.number(node, "port", path, &rd->port, 1, 65535);
  auto checkPath = [&](const char* key, std::string* value) {
    r.string(node, key, path, value, false);
    if (node[key] && (!value->starts_with("/") || !validHeaderValue(*value) ||
                      value->find_first_of(" ?#") != std::string::npos))
      r.error(node[key], Reader::join(path, key),
              "invalid path " + quoted(*value) + " (starts with /, no spaces, ? or #)");
  };
  checkPath("path", &rd->path);
  checkPath("prefix", &rd->prefix);
  rd->has_prefix = static_cast<bool>(node["prefix"]);
  if (node["path"] && node["prefix"])
    r.error(node["prefix"], Reader::join(path, "prefix"), "set either path or prefix, not both");
  r.boolean(node, "strip_query", path, &rd->strip_query);
  r.number(node, "status", path, &rd->status, 300, 308);
  if (node["status"] && rd->status != 301 && rd->status != 302 && rd->status != 303 &&
      rd->status != 307 && rd->status != 308)
    r.error(node["status"], Reader::join(path, "status"), "expected 301, 302, 303, 307 or 308");
}

// `response: { status, body, content_type, headers }`.
void readFixedResponse(Reader& r, const YAML::Node& node, const std::string& path,
                       FixedResponseConfig* fr) {
  if (!r.expectMap(node, path, {"status", "body", "content_type", "headers"})) return;
  fr->enabled = true;
  r.number(node, "status", path, &fr->status, 200, 599);
  r.string(node, "body", path, &fr->body, false);
  if (fr->body.size() > kMaxFixedBody)
    r.error(node["body"], Reader::join(path, "body"),
            "longer than " + std::to_string(kMaxFixedBody) + " bytes");
  if ((fr->status == 204 || fr->status == 304) && !fr->body.empty())
    r.error(node["body"], Reader::join(path, "body"),
            "a " + std::to_string(fr->status) + " response has no body");
  r.string(node, "content_type", path, &fr->content_type, false);
  if (!validHeaderValue(fr->content_type))
    r.error(node["content_type"], Reader::join(path, "content_type"),
            "invalid header value (control characters)");
  if (YAML::Node h = node["headers"]) {
    readHeaderMap(r, h, Reader::join(path, "headers"), false, false, &fr->headers);
    for (const auto& [name, value] : fr->headers)
      if (lowerCase(name) == "content-type")
        r.error(h, Reader::join(path, "headers"), "set Content-Type with content_type");
  }
}

// `destinations: [{cluster, subset: {label: value}, weight}]`: at least one, no two the same,
// weights summing to more than 0.
void readDestinations(Reader& r, const YAML::Node& node, const std::string& path,
                      std::vector<DestinationConfig>* out) {
  if (!node.IsSequence() || node.size() == 0) {
    r.error(node, path, "expected a non-empty list of { cluster, subset, weight }");
    return;
  }
  if (node.size() > kMaxDestinations) {
    r.error(node, path, "at most " + std::to_string(kMaxDestinations) + " destinations");
    return;
  }
  uint64_t total = 0;
  std::set<std::string> seen;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string dpath = Reader::index(path, i);
    DestinationConfig d;
    d.mark = markOf(node[i]);
    if (!r.expectMap(node[i], dpath, {"cluster", "subset", "weight"})) continue;
    r.string(node[i], "cluster", dpath, &d.cluster, true);
    if (node[i]["cluster"]) d.mark = markOf(node[i]["cluster"]);  // where "unknown" points
    r.number(node[i], "weight", dpath, &d.weight, 0, kMaxDestinationWeight);
    if (YAML::Node subset = node[i]["subset"]) {
      const std::string spath = Reader::join(dpath, "subset");
      if (!subset.IsMap() || subset.size() == 0) {
        r.error(subset, spath,
                "expected a mapping of host labels to values, e.g. {version: 1.1.0}");
      } else {
        for (auto it = subset.begin(); it != subset.end(); ++it) {
          std::string value;
          if (r.scalar(it->second, spath + "." + it->first.Scalar(), &value))
            d.subset[it->first.Scalar()] = value;
        }
      }
    }
    if (!d.cluster.empty() && !seen.insert(d.label()).second)
      r.error(node[i], dpath, "destination " + quoted(d.label()) + " is listed twice");
    total += d.weight;
    out->push_back(std::move(d));
  }
  if (total == 0) r.error(node, path, "the weights sum to 0: at least one must be above 0");
}

void readRoute(Reader& r, const YAML::Node& node, const std::string& path, RouteConfig* route) {
  route->mark = markOf(node);
  if (!r.expectMap(node, path,
                   {"name", "match", "cluster", "destinations", "timeout", "slo", "upgrades",
                    "tunnel_idle_timeout", "retry", "rate_limit", "sticky", "redirect", "response",
                    "request_headers", "response_headers", "errors", "compression"}))
    return;
  r.string(node, "name", path, &route->name, false);
  if (YAML::Node slo = node["slo"]) {
    std::string spath = Reader::join(path, "slo");
    if (r.expectMap(slo, spath, {"mean", "p95", "p99", "max_error_rate"})) {
      r.duration(slo, "mean", spath, &route->slo.mean);
      r.duration(slo, "p95", spath, &route->slo.p95);
      r.duration(slo, "p99", spath, &route->slo.p99);
      r.fraction(slo, "max_error_rate", spath, &route->slo.max_error_rate);
    }
  }
  if (YAML::Node match = node["match"]) {
    std::string mpath = Reader::join(path, "match");
    if (r.expectMap(match, mpath,
                    {"host", "path_prefix", "methods", "headers", "cookies", "query"})) {
      if (YAML::Node m = match["methods"])
        readMethods(r, m, Reader::join(mpath, "methods"), &route->match.methods);
      if (YAML::Node h = match["headers"])
        readValueMatches(r, h, Reader::join(mpath, "headers"), "header", &route->match.headers);
      if (YAML::Node c = match["cookies"])
        readValueMatches(r, c, Reader::join(mpath, "cookies"), "cookie", &route->match.cookies);
      if (YAML::Node q = match["query"])
        readValueMatches(r, q, Reader::join(mpath, "query"), "query", &route->match.query);
      r.string(match, "host", mpath, &route->match.host, false);
      r.string(match, "path_prefix", mpath, &route->match.path_prefix, false);
      if (!route->match.host.empty() && !validHostPattern(route->match.host))
        r.error(match["host"], mpath + ".host",
                "invalid host " + quoted(route->match.host) +
                    " (lower-case name, or *.suffix for a wildcard)");
      if (!route->match.path_prefix.starts_with("/"))
        r.error(match["path_prefix"], mpath + ".path_prefix", "must start with /");
    }
  }
  const bool answers_itself = node["redirect"] || node["response"];
  if (YAML::Node d = node["destinations"]; d && !answers_itself) {
    if (node["cluster"])
      r.error(node["cluster"], Reader::join(path, "cluster"),
              "set either cluster or destinations, not both");
    readDestinations(r, d, Reader::join(path, "destinations"), &route->destinations);
    if (!route->destinations.empty()) {
      route->cluster = route->destinations.front().cluster;
      route->cluster_mark = route->destinations.front().mark;
    }
  } else if (answers_itself) {
    const char* own = node["redirect"] ? "redirect" : "response";
    // What only a forwarded request has.
    for (const char* key : {"destinations", "retry", "sticky", "request_headers", "compression"})
      if (node[key])
        r.error(node[key], Reader::join(path, key),
                std::string("a route with ") + own + " forwards nothing: no " + key);
    if (node["redirect"] && node["response"])
      r.error(node["response"], Reader::join(path, "response"),
              "set either redirect or response, not both");
    if (node["cluster"])
      r.error(node["cluster"], Reader::join(path, "cluster"),
              std::string("a route with ") + own + " has no cluster");
    if (YAML::Node rd = node["redirect"])
      readRedirect(r, rd, Reader::join(path, "redirect"), &route->redirect);
    if (YAML::Node fr = node["response"])
      readFixedResponse(r, fr, Reader::join(path, "response"), &route->response);
  } else {
    r.string(node, "cluster", path, &route->cluster, true);
    if (node["cluster"]) route->cluster_mark = markOf(node["cluster"]);
    if (!route->cluster.empty())
      route->destinations.push_back({route->cluster, {}, 1, route->cluster_mark});
  }
  r.duration(node, "timeout", path, &route->timeout);
  r.duration(node, "tunnel_idle_timeout", path, &route->tunnel_idle_timeout);
  readUpgrades(r, node, path, route);
  if (YAML::Node retry = node["retry"])
    readRetry(r, retry, Reader::join(path, "retry"), &route->retry);
  if (YAML::Node rl = node["rate_limit"])
    readRateLimit(r, rl, Reader::join(path, "rate_limit"), &route->rate_limit);
  if (YAML::Node h = node["request_headers"])
    readHeaderEdits(r, h, Reader::join(path, "request_headers"), true, &route->request_headers);
  if (YAML::Node h = node["response_headers"])
    readHeaderEdits(r, h, Reader::join(path, "response_headers"), false, &route->response_headers);
  choice(r, node, "errors", path, {{"text", false}, {"json", true}}, "text or json",
         &route->json_errors);
  if (YAML::Node st = node["sticky"])
    readSticky(r, st, Reader::join(path, "sticky"), &route->sticky);
  if (YAML::Node c = node["compression"])
    readCompression(r, c, Reader::join(path, "compression"), &route->compression);
}

void readAdmin(Reader& r, const YAML::Node& node, AdminConfig* a) {
  a->mark = markOf(node);
  if (!r.expectMap(node, "admin", {"enabled", "listen", "token_file", "state_file"})) return;
  r.boolean(node, "enabled", "admin", &a->enabled);
  r.string(node, "listen", "admin", &a->listen, false);
  r.string(node, "token_file", "admin", &a->token_file, false);
  r.string(node, "state_file", "admin", &a->state_file, false);
  if (!parseHostPort(a->listen, true)) {
    r.error(node["listen"] ? node["listen"] : node, "admin.listen",
            "invalid address " + quoted(a->listen) + " (expected IP:PORT or [IPv6]:PORT)");
  } else if (a->enabled && a->token_file.empty() && !isLoopbackAddress(a->listen)) {
    r.error(node["listen"] ? node["listen"] : node, "admin.listen",
            "a non-loopback admin address needs admin.token_file (the API can drain and remove "
            "hosts)");
  }
}

void readTls(Reader& r, const YAML::Node& node, const std::string& path,
             const std::string& base_dir, TlsConfig* t) {
  t->enabled = true;
  t->mark = markOf(node);
  if (!r.expectMap(node, path,
                   {"certificates", "min_version", "handshake_timeout", "session_tickets",
                    "ticket_key_rotation"}))
    return;
  r.string(node, "min_version", path, &t->min_version, false);
  if (t->min_version != "1.2" && t->min_version != "1.3")
    r.error(node["min_version"], Reader::join(path, "min_version"),
            "expected \"1.2\" or \"1.3\", got " + quoted(t->min_version) +
                " (older protocols are not offered)");
  r.duration(node, "handshake_timeout", path, &t->handshake_timeout);
  r.boolean(node, "session_tickets", path, &t->session_tickets);
  r.duration(node, "ticket_key_rotation", path, &t->ticket_key_rotation);
  YAML::Node certs = node["certificates"];
  std::string cpath = Reader::join(path, "certificates");
  if (!certs) {
    r.error(node, cpath, "missing required field");
    return;
  }
  if (!certs.IsSequence() || certs.size() == 0) {
    r.error(certs, cpath, "expected a non-empty list of {cert, key}; the first is the default");
    return;
  }
  for (size_t i = 0; i < certs.size(); ++i) {
    std::string ipath = Reader::index(cpath, i);
    TlsCertificateConfig c;
    c.mark = markOf(certs[i]);
    if (!r.expectMap(certs[i], ipath, {"cert", "key"})) continue;
    r.string(certs[i], "cert", ipath, &c.cert, true);
    r.string(certs[i], "key", ipath, &c.key, true);
    if (c.cert.empty() || c.key.empty()) continue;
    c.cert = resolvePath(c.cert, base_dir);
    c.key = resolvePath(c.key, base_dir);
    std::string problem = checkCertificateFiles(c.cert, c.key);
    if (!problem.empty()) r.error(certs[i], ipath, problem);
    t->certificates.push_back(std::move(c));
  }
}

void readHttp2(Reader& r, const YAML::Node& node, const std::string& path, Http2Config* h) {
  if (!r.expectMap(node, path,
                   {"enabled", "cleartext", "max_concurrent_streams", "max_requests_per_connection",
                    "stream_idle_timeout", "initial_window"}))
    return;
  r.boolean(node, "enabled", path, &h->enabled);
  r.boolean(node, "cleartext", path, &h->cleartext);
  r.number(node, "max_concurrent_streams", path, &h->max_concurrent_streams, 1, 1000);
  r.number(node, "max_requests_per_connection", path, &h->max_requests_per_connection, 1,
           100000000);
  r.duration(node, "stream_idle_timeout", path, &h->stream_idle_timeout);
  r.number(node, "initial_window", path, &h->initial_window, 16384, (1u << 31) - 1, true);
}

void readProxyProtocol(Reader& r, const YAML::Node& node, const std::string& path,
                       ProxyProtocolConfig* p) {
  p->mark = markOf(node);
  if (!r.expectMap(node, path, {"enabled", "trusted", "timeout"})) return;
  p->enabled = true;  // the block turns it on unless it says enabled: false
  r.boolean(node, "enabled", path, &p->enabled);
  r.duration(node, "timeout", path, &p->timeout);
  YAML::Node list = node["trusted"];
  const std::string tpath = Reader::join(path, "trusted");
  if (!list) {
    if (p->enabled)
      r.error(node, tpath,
              "missing required field (the networks of the balancers that send the header)");
    return;
  }
  if (!list.IsSequence() || list.size() == 0) {
    r.error(list, tpath, "expected a non-empty list of networks, e.g. [10.0.0.0/8]");
    return;
  }
  for (size_t i = 0; i < list.size(); ++i) {
    std::string text;
    const std::string ipath = Reader::index(tpath, i);
    if (!r.scalar(list[i], ipath, &text)) continue;
    if (!common::parseIpNetwork(text))
      r.error(list[i], ipath,
              "invalid network " + quoted(text) + " (an IP address or CIDR, e.g. 10.0.0.0/8)");
    else
      p->trusted.push_back(text);
  }
}

void readListener(Reader& r, const YAML::Node& node, const std::string& path,
                  const std::string& base_dir, ListenerConfig* l) {
  l->mark = markOf(node);
  if (!r.expectMap(node, path,
                   {"name", "listen", "request_headers_timeout", "idle_timeout", "max_request_line",
                    "max_header_bytes", "max_headers", "max_body_bytes", "tls", "http2",
                    "proxy_protocol", "routes"}))
    return;
  if (YAML::Node pp = node["proxy_protocol"])
    readProxyProtocol(r, pp, Reader::join(path, "proxy_protocol"), &l->proxy_protocol);
  if (YAML::Node tls = node["tls"]) readTls(r, tls, Reader::join(path, "tls"), base_dir, &l->tls);
  if (YAML::Node h2 = node["http2"]) readHttp2(r, h2, Reader::join(path, "http2"), &l->http2);
  if (l->http2.cleartext && l->tls.enabled)
    r.error(node["http2"]["cleartext"], Reader::join(path, "http2.cleartext"),
            "cleartext HTTP/2 is for listeners without tls (with tls, ALPN offers h2)");
  r.string(node, "name", path, &l->name, true);
  r.string(node, "listen", path, &l->listen, true);
  if (!l->listen.empty() && !parseHostPort(l->listen, true))
    r.error(node["listen"], Reader::join(path, "listen"),
            "invalid address " + quoted(l->listen) + " (expected IP:PORT or [IPv6]:PORT)");
  r.duration(node, "request_headers_timeout", path, &l->request_headers_timeout);
  r.duration(node, "idle_timeout", path, &l->idle_timeout);
  r.number(node, "max_request_line", path, &l->max_request_line, 64, 1 << 20, true);
  r.number(node, "max_header_bytes", path, &l->max_header_bytes, 256, 1 << 20, true);
  r.number(node, "max_headers", path, &l->max_headers, 1, 10000);
  r.number(node, "max_body_bytes", path, &l->max_body_bytes, 0, uint64_t{1} << 50, true);
  YAML::Node routes = node["routes"];
  std::string rpath = Reader::join(path, "routes");
  if (!routes) {
    r.error(node, rpath, "missing required field");
  } else if (!routes.IsSequence() || routes.size() == 0) {
    r.error(routes, rpath, "expected a non-empty list of routes");
  } else {
    for (size_t i = 0; i < routes.size(); ++i) {
      RouteConfig route;
      readRoute(r, routes[i], Reader::index(rpath, i), &route);
      l->routes.push_back(std::move(route));
    }
  }
}

void readRoot(Reader& r, const YAML::Node& root, const std::string& base_dir, ProxyConfig* cfg) {
  if (!r.expectMap(root, "",
                   {"workers", "shutdown_timeout", "listeners", "clusters", "access_log", "admin",
                    "metrics"}))
    return;
  if (YAML::Node metrics = root["metrics"]) {
    if (r.expectMap(metrics, "metrics", {"enabled"}))
      r.boolean(metrics, "enabled", "metrics", &cfg->metrics.enabled);
  }
  if (YAML::Node admin = root["admin"]) readAdmin(r, admin, &cfg->admin);
  r.number(root, "workers", "", &cfg->workers, 0, 256);
  r.duration(root, "shutdown_timeout", "", &cfg->shutdown_timeout, true);
  if (YAML::Node log = root["access_log"]) {
    if (r.expectMap(log, "access_log", {"enabled", "path"})) {
      r.boolean(log, "enabled", "access_log", &cfg->access_log.enabled);
      r.string(log, "path", "access_log", &cfg->access_log.path, false);
      if (cfg->access_log.enabled && cfg->access_log.path.empty())
        r.error(log, "access_log.path", "must not be empty when the access log is enabled");
    }
  }
  YAML::Node clusters = root["clusters"];
  if (!clusters) {
    r.error(root, "clusters", "missing required field");
  } else if (!clusters.IsSequence()) {
    r.error(clusters, "clusters", "expected a list of clusters");
  } else {
    std::set<std::string> names;
    for (size_t i = 0; i < clusters.size(); ++i) {
      ClusterConfig c;
      readCluster(r, clusters[i], Reader::index("clusters", i), base_dir, &c);
      if (!c.name.empty() && !names.insert(c.name).second)
        r.error(clusters[i]["name"], Reader::index("clusters", i) + ".name",
                "duplicate cluster name " + quoted(c.name));
      cfg->clusters.push_back(std::move(c));
    }
  }
  YAML::Node listeners = root["listeners"];
  if (!listeners) {
    r.error(root, "listeners", "missing required field");
  } else if (!listeners.IsSequence() || listeners.size() == 0) {
    r.error(listeners, "listeners", "expected a non-empty list of listeners");
  } else {
    std::set<std::string> names, addresses, route_names;
    for (size_t i = 0; i < listeners.size(); ++i) {
      ListenerConfig l;
      std::string lpath = Reader::index("listeners", i);
      readListener(r, listeners[i], lpath, base_dir, &l);
      for (size_t j = 0; j < l.routes.size(); ++j) {
        RouteConfig& route = l.routes[j];
        const bool named = !route.name.empty();
        if (!named) route.name = l.name + ":" + route.match.host + route.match.path_prefix;
        if (!route_names.insert(route.name).second && !l.name.empty()) {
          std::string rpath = lpath + ".routes[" + std::to_string(j) + "]";
          if (named)
            r.error(listeners[i]["routes"][j]["name"], rpath + ".name",
                    "duplicate route name " + quoted(route.name));
          else
            r.error(route.mark, rpath,
                    "another route has the same name " + quoted(route.name) +
                        " (same listener, host and path_prefix); set name");
        }
      }
      if (!l.name.empty() && !names.insert(l.name).second)
        r.error(listeners[i]["name"], lpath + ".name", "duplicate listener name " + quoted(l.name));
      auto hp = parseHostPort(l.listen, true);
      if (hp && hp->port != 0 && !addresses.insert(l.listen).second)
        r.error(listeners[i]["listen"], lpath + ".listen",
                "address " + quoted(l.listen) + " is used by another listener");
      for (size_t j = 0; j < l.routes.size(); ++j) {
        const RouteConfig& route = l.routes[j];
        const bool split = listeners[i]["routes"][j]["destinations"].IsDefined();
        for (size_t k = 0; k < route.destinations.size(); ++k) {
          const DestinationConfig& d = route.destinations[k];
          if (d.cluster.empty() || cfg->findCluster(d.cluster)) continue;
          const std::string rpath = lpath + ".routes[" + std::to_string(j) + "]";
          r.error(d.mark,
                  split ? rpath + ".destinations[" + std::to_string(k) + "].cluster"
                        : rpath + ".cluster",
                  "unknown cluster " + quoted(d.cluster));
        }
      }
      cfg->listeners.push_back(std::move(l));
    }
  }
}

LoadResult loadFromNode(const std::function<YAML::Node()>& load, const std::string& source,
                        const std::string& base_dir) {
  LoadResult result;
  result.config.source = source;
  result.errors = readYaml(load, source, [&](Reader& r, const YAML::Node& root) {
    readRoot(r, root, base_dir, &result.config);
  });
  return result;
}

}  // namespace

LoadResult loadProxyConfigFile(const std::string& path) {
  size_t slash = path.rfind('/');
  std::string base_dir = slash == std::string::npos ? "" : path.substr(0, slash);
  return loadFromNode([&] { return YAML::LoadFile(path); }, path, base_dir);
}

LoadResult loadProxyConfigString(const std::string& yaml, const std::string& source_name) {
  return loadFromNode([&] { return YAML::Load(yaml); }, source_name, "");
}

}  // namespace lb::config
