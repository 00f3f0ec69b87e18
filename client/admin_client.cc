#include "client/admin_client.h"

#include "common/http_client.h"
#include "common/uri.h"

namespace lb::client {

using nlohmann::json;

AdminClient::AdminClient(std::string address, std::string token, std::chrono::milliseconds timeout)
    : address_(std::move(address)), token_(std::move(token)), timeout_(timeout) {}

std::optional<AdminClient> AdminClient::fromUrl(const std::string& url, std::string token,
                                                std::chrono::milliseconds timeout) {
  auto address = common::parseAdminUrl(url);
  if (!address) return std::nullopt;
  return AdminClient(*address, std::move(token), timeout);
}

Reply AdminClient::call(const std::string& method, const std::string& target,
                        const json& body) const {
  return callRaw(method, target, body.is_null() ? std::string() : body.dump());
}

Reply AdminClient::callRaw(const std::string& method, const std::string& target,
                           const std::string& raw_body) const {
  common::HttpCall c;
  c.address = address_;
  c.method = method;
  c.target = target;
  c.body = raw_body;
  c.bearer = token_;
  c.timeout = timeout_;
  common::HttpResult h = common::httpCall(c);
  Reply r;
  if (!h.answered()) {
    r.message = h.error;
    return r;
  }
  r.status = h.status;
  r.text = std::move(h.body);
  if (const std::string* w = h.header("WWW-Authenticate")) r.www_authenticate = *w;
  r.body = json::parse(r.text, nullptr, false);
  if (r.body.is_discarded()) r.body = nullptr;
  if (!r.ok() && r.body.is_object())
    if (auto e = r.body.find("error"); e != r.body.end() && e->is_object())
      r.message = e->value("message", "");
  if (!r.ok() && r.message.empty()) r.message = "HTTP " + std::to_string(r.status);
  return r;
}

std::string hostPath(const std::string& cluster, const std::string& id, const std::string& suffix) {
  return "/v1/clusters/" + common::escapePathSegment(cluster) + "/hosts/" +
         common::escapePathSegment(id) + suffix;
}

Reply AdminClient::cluster(const std::string& cluster) const {
  return get("/v1/clusters/" + common::escapePathSegment(cluster));
}

Reply AdminClient::host(const std::string& cluster, const std::string& id) const {
  return get(hostPath(cluster, id));
}

Reply AdminClient::addHost(const std::string& cluster, const std::string& id,
                           const std::string& address,
                           const std::map<std::string, std::string>& labels,
                           const std::string& state) const {
  json req{{"id", id}, {"address", address}, {"labels", labels}, {"state", state}};
  return call("POST", "/v1/clusters/" + common::escapePathSegment(cluster) + "/hosts", req);
}

Reply AdminClient::setHostState(const std::string& cluster, const std::string& id,
                                const std::string& state,
                                std::optional<uint32_t> deadline_ms) const {
  json req{{"state", state}};
  if (deadline_ms) req["deadline"] = std::to_string(*deadline_ms) + "ms";
  return call("PUT", hostPath(cluster, id, "/state"), req);
}

Reply AdminClient::removeHost(const std::string& cluster, const std::string& id, bool force) const {
  return call("DELETE", hostPath(cluster, id, force ? "?force=true" : ""));
}

Reply AdminClient::stats(uint32_t window_s) const {
  return get("/v1/stats?window=" + std::to_string(window_s) + "s");
}

}  // namespace lb::client
