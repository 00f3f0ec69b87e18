// Runtime changes made through the admin API, kept apart from the file so they can be
// re-applied to every reload of it (matched by cluster and host id) and saved to the state
// file to survive a restart. Main thread only.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/model.h"
#include "proxy/upstream/host.h"

namespace lb::control {

struct HostOverride {
  std::optional<upstream::AdminState> admin;
  std::optional<uint32_t> weight;
};

struct RuntimeOverlay {
  std::map<std::string, std::vector<config::HostConfig>> added;          // by cluster
  std::map<std::string, std::set<std::string>> removed;                  // host ids, by cluster
  std::map<std::string, std::map<std::string, HostOverride>> overrides;  // cluster -> id -> ...
  // A route's weighted destinations set through the API, by route name; they replace the
  // file's for as long as the route is in the file and every cluster they name is too.
  std::map<std::string, std::vector<config::DestinationConfig>> destinations;

  // The file's config with these changes applied. A host added at runtime whose id the file
  // now lists is taken from the file.
  config::ProxyConfig apply(const config::ProxyConfig& file) const;

  // The route's destinations set at runtime, if they apply to `cfg` (null: the file's serve,
  // as when one of the clusters they name is gone from it).
  const std::vector<config::DestinationConfig>* destinationsFor(
      const std::string& route, const config::ProxyConfig& cfg) const;

  void addHost(const std::string& cluster, const config::HostConfig& host);
  void removeHost(const std::string& cluster, const std::string& id);

  std::string toJson() const;
  // Returns false and sets *error when the text is not a valid state file.
  bool fromJson(const std::string& text, std::string* error);
};

std::optional<upstream::AdminState> parseAdminState(const std::string& name);

}  // namespace lb::control
