#include "tests/support/admin_client.h"

#include "tests/support/test_client.h"

namespace lb::test {

AdminResponse AdminClient::call(const std::string& method, const std::string& path,
                                const std::string& body) const {
  AdminResponse out;
  TestClient client(port_);
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n";
  if (!token_.empty()) req += "Authorization: Bearer " + token_ + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT")
    req +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  if (!client.send(req)) return out;
  auto resp = client.read(false, std::chrono::seconds(20));
  if (!resp) return out;
  out.status = resp->status;
  out.text = resp->body;
  if (const std::string* w = resp->header("WWW-Authenticate")) out.www_authenticate = *w;
  out.body = nlohmann::json::parse(resp->body, nullptr, false);
  if (out.body.is_discarded()) out.body = nullptr;
  return out;
}

nlohmann::json AdminClient::host(const std::string& cluster, const std::string& id) const {
  AdminResponse r = get("/v1/clusters/" + cluster + "/hosts/" + id);
  return r.status == 200 ? r.body : nlohmann::json();
}

}  // namespace lb::test
