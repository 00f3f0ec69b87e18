#include "controlplane/proxy/proxy_fleet.h"

#include <algorithm>
#include <future>
#include <nlohmann/json.hpp>

#include "common/durable_file.h"
#include "common/uri.h"

namespace lb::controlplane {

using nlohmann::json;

namespace {

constexpr std::chrono::milliseconds kCallTimeout{3000};

std::string firstLine(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

// A JSON object answered with one of `done`, else the failure.
std::optional<ProxyFailure> check(const std::string& proxy, const client::Reply& r,
                                  std::initializer_list<int> done) {
  if (!r.answered()) return ProxyFailure{proxy, 0, r.message};
  if (std::find(done.begin(), done.end(), r.status) == done.end())
    return ProxyFailure{proxy, r.status, r.ok() ? "unexpected answer" : r.message};
  if (!r.body.is_object()) return ProxyFailure{proxy, r.status, "answer is not JSON"};
  return std::nullopt;
}

}  // namespace

std::string ProxyFailure::text() const {
  if (status == 0) return proxy + ": " + message;
  return proxy + ": HTTP " + std::to_string(status) + (message.empty() ? "" : " " + message);
}

std::string describe(const ProxyFailures& failures) {
  std::string out;
  for (const auto& f : failures) out += (out.empty() ? "" : "; ") + f.text();
  return out;
}

ProxyFleet::ProxyFleet(const config::ControlConfig& cfg) : cluster_(cfg.cluster) {
  for (const auto& p : cfg.proxies) {
    std::string token;
    if (!p.token_file.empty()) {
      std::string text;
      if (!common::readWholeFile(p.token_file, &text))
        setup_errors_.push_back("proxies: cannot read token file " + p.token_file);
      token = firstLine(text);
    }
    // The loader checked the URL; an empty address fails every call with a clear error.
    endpoints_.push_back({p.admin, client::AdminClient(common::parseAdminUrl(p.admin).value_or(""),
                                                       std::move(token), kCallTimeout)});
  }
}

template <typename T, typename Fn>
std::vector<T> ProxyFleet::onEveryProxy(Fn fn) const {
  std::vector<T> out;
  if (endpoints_.size() == 1) {
    out.push_back(fn(endpoints_[0]));
    return out;
  }
  std::vector<std::future<T>> calls;
  for (const auto& e : endpoints_)
    calls.push_back(std::async(std::launch::async, [&fn, &e] { return fn(e); }));
  for (auto& c : calls) out.push_back(c.get());
  return out;
}

FleetView ProxyFleet::observe() const {
  FleetView view;
  view.proxies = endpoints_.size();
  auto replies =
      onEveryProxy<client::Reply>([this](const Endpoint& e) { return e.admin.cluster(cluster_); });
  for (size_t k = 0; k < replies.size(); ++k) {
    const std::string& name = endpoints_[k].name;
    if (auto failure = check(name, replies[k], {200})) {
      view.errors.push_back(failure->text());
      continue;
    }
    try {
      for (const auto& h : replies[k].body.value("hosts", json::array())) {
        HostView v;
        v.state = h.value("state", "");
        v.health = h.value("health", "");
        v.usable = h.value("usable", false);
        v.ejected = h.value("ejected", false);
        v.drained = h.value("drained", false);
        v.active_requests = h.value("active_requests", uint64_t{0});
        view.hosts[h.value("id", "")].push_back(v);
      }
    } catch (const json::exception& ex) {
      view.errors.push_back(name + ": unexpected cluster view: " + ex.what());
    }
  }
  return view;
}

TrafficView ProxyFleet::traffic(uint32_t window_s) const {
  TrafficView view;
  auto replies = onEveryProxy<client::Reply>(
      [window_s](const Endpoint& e) { return e.admin.stats(window_s); });
  for (size_t k = 0; k < replies.size(); ++k) {
    const std::string& name = endpoints_[k].name;
    if (auto failure = check(name, replies[k], {200})) {
      view.errors.push_back(failure->text());
      continue;
    }
    const json& body = replies[k].body;
    try {
      // Named locals: items() of a temporary would dangle inside the range-for.
      const json routes = body.value("routes", json::object());
      for (const auto& [route_name, route] : routes.items()) {
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
    } catch (const json::exception& ex) {
      view.errors.push_back(name + ": unexpected stats: " + ex.what());
    }
  }
  return view;
}

ProxyFailures ProxyFleet::apply(const FleetAction& a) const {
  auto results = onEveryProxy<std::optional<ProxyFailure>>(
      [this, &a](const Endpoint& e) -> std::optional<ProxyFailure> {
        switch (a.kind) {
          case FleetAction::Kind::kAdd:
            return check(e.name, e.admin.addHost(cluster_, a.id, a.address, a.labels, "drain"),
                         {201, 409});
          case FleetAction::Kind::kReady:
            return check(e.name, e.admin.setHostState(cluster_, a.id, "ready"), {200});
          case FleetAction::Kind::kDrain:
            return check(e.name, e.admin.setHostState(cluster_, a.id, "drain", a.drain_deadline_ms),
                         {200});
          case FleetAction::Kind::kRemove:
            return check(e.name, e.admin.removeHost(cluster_, a.id), {200, 404});
        }
        return std::nullopt;
      });
  ProxyFailures failures;
  for (auto& r : results)
    if (r) failures.push_back(std::move(*r));
  return failures;
}

}  // namespace lb::controlplane
