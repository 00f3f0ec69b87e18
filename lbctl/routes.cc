#include "lbctl/routes.h"

#include <cstdio>

#include "lbctl/client.h"

namespace lb::lbctl {

using nlohmann::json;

std::optional<json> parseDestinationArg(const std::string& arg, std::string* error) {
  const size_t eq = arg.rfind('=');
  const size_t close = arg.rfind('}');
  auto bad = [&] {
    *error = "expected CLUSTER=WEIGHT or CLUSTER{LABEL=VALUE,...}=WEIGHT, got \"" + arg + "\"";
    return std::nullopt;
  };
  if (eq == std::string::npos || eq + 1 == arg.size() || (close != std::string::npos && eq < close))
    return bad();
  const std::string weight = arg.substr(eq + 1);
  if (weight.find_first_not_of("0123456789") != std::string::npos || weight.size() > 5)
    return bad();
  std::string target = arg.substr(0, eq);
  json d{{"weight", std::stoul(weight)}, {"subset", json::object()}};
  const size_t open = target.find('{');
  if (open == std::string::npos) {
    if (target.empty() || close != std::string::npos) return bad();
    d["cluster"] = target;
    return d;
  }
  if (open == 0 || target.back() != '}') return bad();
  d["cluster"] = target.substr(0, open);
  const std::string labels = target.substr(open + 1, target.size() - open - 2);
  size_t start = 0;
  while (start <= labels.size()) {
    size_t comma = labels.find(',', start);
    if (comma == std::string::npos) comma = labels.size();
    const std::string kv = labels.substr(start, comma - start);
    const size_t e = kv.find('=');
    if (e == std::string::npos || e == 0) return bad();
    d["subset"][kv.substr(0, e)] = kv.substr(e + 1);
    start = comma + 1;
  }
  return d;
}

void routesTable(const json& body) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : body["routes"]) {
    for (const auto& d : r["destinations"]) {
      char share[16];
      std::snprintf(share, sizeof(share), "%.1f%%", d.value("share", 0.0) * 100);
      rows.push_back({str(r["name"]), str(r["listener"]), str(r["source"]), str(d["label"]),
                      str(d["weight"]), share, str(d["hosts"])});
    }
  }
  printTable({"ROUTE", "LISTENER", "SOURCE", "DESTINATION", "WEIGHT", "SHARE", "HOSTS"}, rows);
}

}  // namespace lb::lbctl
