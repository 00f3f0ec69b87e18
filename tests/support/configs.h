// YAML configs for integration tests: one listener on 127.0.0.1:0, one cluster "app".
#pragma once

#include <string>
#include <vector>

namespace lb::test {

struct TestConfig {
  std::vector<std::string> hosts;  // addresses; ids are h1, h2, ...
  std::string balancer = "round_robin";
  std::string cluster_extra;   // more fields of cluster "app", indented 4 spaces
  std::string listener_extra;  // more fields of listener "public", indented 4 spaces
  std::string route_timeout = "5s";
  std::string routes;          // replaces the default catch-all route when set
  std::string clusters_extra;  // more clusters, each starting "  - name: ..."
  std::string admin = "admin: { listen: 127.0.0.1:0 }\n";  // whole "admin:" block
  std::string access_log = "access_log: { path: /dev/stdout }\n";
  int workers = 2;
  std::string shutdown_timeout = "5s";

  std::string yaml() const {
    std::string y = "workers: " + std::to_string(workers) +
                    "\nshutdown_timeout: " + shutdown_timeout +
                    "\nlisteners:\n  - name: public\n    listen: 127.0.0.1:0\n" + listener_extra +
                    "    routes:\n";
    y += routes.empty()
             ? "      - match: { path_prefix: / }\n        cluster: app\n        timeout: " +
                   route_timeout + "\n"
             : routes;
    y += "clusters:\n  - name: app\n    balancer: " + balancer + "\n" + cluster_extra +
         (hosts.empty() ? "    hosts: []\n" : "    hosts:\n");
    for (size_t i = 0; i < hosts.size(); ++i)
      y += "      - { id: h" + std::to_string(i + 1) + ", address: \"" + hosts[i] + "\" }\n";
    y += clusters_extra;
    y += admin;
    y += access_log;
    return y;
  }
};

// A cluster entry for TestConfig::clusters_extra whose hosts carry a `version` label.
struct VersionedHost {
  std::string id, address, version;
};
inline std::string versionedCluster(const std::string& name,
                                    const std::vector<VersionedHost>& hosts) {
  std::string y = "  - name: " + name + "\n    hosts:\n";
  for (const auto& h : hosts)
    y += "      - { id: " + h.id + ", address: \"" + h.address +
         "\", labels: { version: " + h.version + " } }\n";
  return y;
}

}  // namespace lb::test
