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

void HeaderEdits::apply(std::vector<Header>* headers) const {
  if (empty()) return;
  std::erase_if(*headers, [this](const Header& h) { return drops(h.name); });
  headers->insert(headers->end(), set.begin(), set.end());
}

}  // namespace lb::http
