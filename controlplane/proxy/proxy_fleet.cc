#include "controlplane/proxy/proxy_fleet.h"

#include <event2/http.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "common/durable_file.h"
#include "common/http_client.h"
#include "config/control_loader.h"

namespace lb::controlplane {

using nlohmann::json;

namespace {

std::string encode(const std::string& s) {
  char* e = evhttp_uriencode(s.c_str(), static_cast<ev_ssize_t>(s.size()), 0);
  std::string out = e ? e : "";
  free(e);
  return out;
}

std::string firstLine(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

}  // namespace

ProxyFleet::ProxyFleet(const config::ControlConfig& cfg) : cluster_(cfg.cluster) {
  for (const auto& p : cfg.proxies) {
    Endpoint e;
    e.name = p.admin;
    e.address = config::parseAdminUrl(p.admin).value_or("");
    if (!p.token_file.empty()) {
      std::string text;
      if (!common::readWholeFile(p.token_file, &text))
        setup_errors_.push_back("proxies: cannot read token file " + p.token_file);
      e.token = firstLine(text);
    }
    endpoints_.push_back(std::move(e));
  }
}

std::string ProxyFleet::call(const Endpoint& p, const std::string& method,
                             const std::string& target, const std::string& body, int* status,
                             json* out) const {
  common::HttpCall c;
  c.address = p.address;
  c.method = method;
  c.target = target;
  c.body = body;
  c.bearer = p.token;
  c.timeout = std::chrono::milliseconds(3000);
  common::HttpResult r = common::httpCall(c);
  if (!r.answered()) return p.name + ": " + r.error;
  *status = r.status;
  *out = json::parse(r.body, nullptr, false);
  if (out->is_discarded() || !out->is_object())
    return p.name + ": answer is not JSON (HTTP " + std::to_string(r.status) + ")";
  return "";
}

FleetView ProxyFleet::observe() const {
  FleetView view;
  view.proxies = endpoints_.size();
  for (const auto& p : endpoints_) {
    int status = 0;
    json body;
    std::string err = call(p, "GET", "/v1/clusters/" + encode(cluster_), "", &status, &body);
    if (err.empty() && status != 200)
      err = p.name + ": HTTP " + std::to_string(status) + " " +
            body.value("/error/message"_json_pointer, std::string());
    if (!err.empty()) {
      view.errors.push_back(err);
      continue;
    }
    try {
      for (const auto& h : body.value("hosts", json::array())) {
        HostView v;
        v.state = h.value("state", "");
        v.health = h.value("health", "");
        v.usable = h.value("usable", false);
        v.ejected = h.value("ejected", false);
        v.drained = h.value("drained", false);
        v.active_requests = h.value("active_requests", uint64_t{0});
        view.hosts[h.value("id", "")].push_back(v);
      }
    } catch (const json::exception& e) {
      view.errors.push_back(p.name + ": unexpected cluster view: " + e.what());
    }
  }
  return view;
}

TrafficView ProxyFleet::traffic(uint32_t window_s) const {
  TrafficView view;
  for (const auto& p : endpoints_) {
    int status = 0;
    json body;
    std::string err =
        call(p, "GET", "/v1/stats?window=" + std::to_string(window_s) + "s", "", &status, &body);
    if (err.empty() && status != 200) err = p.name + ": HTTP " + std::to_string(status);
    if (!err.empty()) {
      view.errors.push_back(err);
      continue;
    }
    try {
      // Named locals: items() of a temporary would dangle inside the range-for.
      const json routes = body.value("routes", json::object());
      for (const auto& [name, route] : routes.items()) {
        if (route.value("cluster", "") != cluster_) continue;
        view.slo_p99_ms = std::max(view.slo_p99_ms, route.value("/slo/p99_ms"_json_pointer, 0.0));
      }
      json hosts = json::object();
      if (auto c = body.find("clusters"); c != body.end() && c->is_object())
        if (auto h = c->find(cluster_); h != c->end() && h->is_object()) hosts = *h;
      for (const auto& [id, h] : hosts.items()) {
        HostTraffic& t = view.hosts[id];
        const uint64_t requests = h.value("requests", uint64_t{0});
        t.requests += requests;
        t.errors += h.value("/responses/5xx"_json_pointer, uint64_t{0});
        const json upstream_errors = h.value("upstream_errors", json::object());
        for (const auto& [reason, n] : upstream_errors.items()) t.errors += n.get<uint64_t>();
        if (requests > 0)
          t.p99_ms = std::max(t.p99_ms, h.value("/latency_ms/p99"_json_pointer, 0.0));
      }
    } catch (const json::exception& e) {
      view.errors.push_back(p.name + ": unexpected stats: " + e.what());
    }
  }
  return view;
}

std::string ProxyFleet::onEveryProxy(const std::string& method, const std::string& target,
                                     const std::string& body,
                                     std::initializer_list<int> done) const {
  std::string failures;
  for (const auto& p : endpoints_) {
    int status = 0;
    json answer;
    std::string err = call(p, method, target, body, &status, &answer);
    if (err.empty() && std::find(done.begin(), done.end(), status) == done.end())
      err = p.name + ": HTTP " + std::to_string(status) + " " +
            answer.value("/error/message"_json_pointer, std::string());
    if (!err.empty()) failures += (failures.empty() ? "" : "; ") + err;
  }
  return failures;
}

std::string ProxyFleet::addHost(const std::string& id, const std::string& address,
                                const std::map<std::string, std::string>& labels,
                                const std::string& state) const {
  json req{{"id", id}, {"address", address}, {"labels", labels}, {"state", state}};
  return onEveryProxy("POST", "/v1/clusters/" + encode(cluster_) + "/hosts", req.dump(),
                      {201, 409});
}

std::string ProxyFleet::setState(const std::string& id, const std::string& state,
                                 std::optional<uint32_t> deadline_ms) const {
  json req{{"state", state}};
  if (deadline_ms) req["deadline"] = std::to_string(*deadline_ms) + "ms";
  return onEveryProxy("PUT", "/v1/clusters/" + encode(cluster_) + "/hosts/" + encode(id) + "/state",
                      req.dump(), {200});
}

std::string ProxyFleet::removeHost(const std::string& id) const {
  return onEveryProxy("DELETE", "/v1/clusters/" + encode(cluster_) + "/hosts/" + encode(id), "",
                      {200, 404});
}

}  // namespace lb::controlplane
