#include "proxy/http/upgrade.h"

#include "proxy/http/message.h"

namespace lb::http {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool selectUpgrade(std::string_view offered, const std::vector<std::string>& allowed,
                   std::string* out) {
  out->clear();
  while (!offered.empty()) {
    const size_t comma = offered.find(',');
    const std::string_view element = trim(offered.substr(0, comma));
    const std::string_view name = element.substr(0, element.find('/'));
    for (const std::string& a : allowed) {
      if (!name.empty() && equalsIgnoreCase(name, a)) {
        if (!out->empty()) out->append(", ");
        out->append(element);
        break;
      }
    }
    if (comma == std::string_view::npos) break;
    offered.remove_prefix(comma + 1);
  }
  return !out->empty();
}

}  // namespace lb::http
