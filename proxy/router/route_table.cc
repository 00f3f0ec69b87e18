#include "proxy/router/route_table.h"

namespace lb::router {

void RouteTable::add(RouteEntry entry) {
  if (entry.host.starts_with("*.")) {
    entry.host.erase(0, 1);  // keep the dot: "*.example.com" matches "a.example.com" only
    entry.wildcard = true;
  }
  entry.index = static_cast<uint32_t>(routes_.size());
  routes_.push_back(std::move(entry));
}

std::string RouteTable::normalizeHost(std::string_view authority) {
  std::string_view host = authority;
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close != std::string_view::npos) host = host.substr(0, close + 1);
  } else if (size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);  // FQDN form
  std::string out(host);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  return out;
}

const RouteEntry* RouteTable::match(std::string_view authority, std::string_view path) const {
  std::string host = normalizeHost(authority);
  size_t query = path.find('?');
  if (query != std::string_view::npos) path = path.substr(0, query);
  for (const RouteEntry& r : routes_) {
    if (!r.host.empty()) {
      if (r.wildcard) {
        if (host.size() <= r.host.size() || !std::string_view(host).ends_with(r.host)) continue;
      } else if (host != r.host) {
        continue;
      }
    }
    if (path.starts_with(r.path_prefix)) return &r;
  }
  return nullptr;
}

}  // namespace lb::router
