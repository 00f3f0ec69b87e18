#include "proxy/http/header_edits.h"

#include <algorithm>

namespace lb::http {

bool HeaderEdits::drops(std::string_view name) const {
  for (const Header& h : set)
    if (equalsIgnoreCase(h.name, name)) return true;
  for (const std::string& r : remove)
    if (equalsIgnoreCase(r, name)) return true;
  return false;
}

void HeaderEdits::apply(std::vector<Header>* headers, const EditVariables& vars) const {
  if (empty()) return;
  std::erase_if(*headers, [this](const Header& h) { return drops(h.name); });
  if (!templated) {
    headers->insert(headers->end(), set.begin(), set.end());
    return;
  }
  for (const Header& h : set) {
    Header& out = headers->emplace_back();
    out.name = h.name;
    expandVariables(h.value, vars, &out.value);
  }
}

void expandVariables(std::string_view value, const EditVariables& vars, std::string* out) {
  for (;;) {
    const size_t open = value.find("${");
    const size_t close = open == std::string_view::npos ? open : value.find('}', open + 2);
    if (close == std::string_view::npos) {
      out->append(value);
      return;
    }
    out->append(value.substr(0, open));
    const std::string_view name = value.substr(open + 2, close - open - 2);
    if (name == "client_ip")
      out->append(vars.client_ip);
    else if (name == "request_id")
      out->append(vars.request_id);
    else if (name == "host")
      out->append(vars.host);
    else if (name == "scheme")
      out->append(vars.scheme);
    else if (name == "route")
      out->append(vars.route);
    else if (name == "upstream")
      out->append(vars.upstream);
    value.remove_prefix(close + 1);
  }
}

std::string_view hostWithoutPort(std::string_view authority) {
  const size_t close = authority.rfind(']');
  const size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && (close == std::string_view::npos || colon > close))
    return authority.substr(0, colon);
  return authority;
}

}  // namespace lb::http
