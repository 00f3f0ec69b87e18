// A route's header edits (docs/routing.md, request_headers / response_headers): fields it sets,
// each replacing every field of that name, and fields it removes. Built once per snapshot;
// read by every worker. Pure; any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "proxy/http/message.h"

namespace lb::http {

// What a set value may name as ${name} (docs/routing.md): the request's, filled in per request.
struct EditVariables {
  std::string_view client_ip;
  std::string_view request_id;
  std::string_view host;  // the request's authority without its port
  std::string_view scheme;
  std::string_view route;
  std::string_view upstream;  // the host that answered (response edits only); "" none
};

struct HeaderEdits {
  std::vector<Header> set;          // in the file's order
  std::vector<std::string> remove;  // names, any case
  bool templated = false;           // a value of `set` names a ${variable}

  bool empty() const { return set.empty() && remove.empty(); }
  // A field of this name does not go out as it came: removed, or replaced by one of `set`.
  bool drops(std::string_view name) const;
  // Removes what drops() names from `headers`, then appends `set`, its variables filled in
  // from `vars` (templated edits need them).
  void apply(std::vector<Header>* headers, const EditVariables& vars) const;
};

// Appends `value` to *out with each ${name} replaced by its variable (an unknown name, which
// the config's validation refuses, by nothing).
void expandVariables(std::string_view value, const EditVariables& vars, std::string* out);
// "shop.example.com:8080" -> "shop.example.com", "[::1]:80" -> "[::1]".
std::string_view hostWithoutPort(std::string_view authority);

}  // namespace lb::http
