#include "lbctl/client.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace lb::lbctl {

using nlohmann::json;

Reply call(const Server& server, const std::string& method, const std::string& target,
           const json& body) {
  // A drain or a reload answers when it is done: a long timeout.
  auto c = client::AdminClient::fromUrl(server.url, server.token, std::chrono::milliseconds(60000));
  if (!c) {
    Reply r;
    r.message = "invalid server URL \"" + server.url + "\" (expected http://IP:PORT)";
    return r;
  }
  Reply r = c->call(method, target, body);
  if (!r.answered()) r.message = server.url + ": " + r.message;
  if (r.ok() && r.body.is_null()) r.body = r.text;  // /metrics and other text
  return r;
}

int fail(const std::string& what, const Reply& r) {
  std::fprintf(stderr, "lbctl: %s: %s\n", what.c_str(), r.message.c_str());
  if (r.body.is_object() && r.body.contains("errors"))
    for (const auto& e : r.body["errors"]) std::fprintf(stderr, "  %s\n", str(e["text"]).c_str());
  return kError;
}

void printTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size() && c < width.size(); ++c)
      width[c] = std::max(width[c], row[c].size());
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t c = 0; c < cells.size(); ++c) {
      out += cells[c];
      if (c + 1 < cells.size()) out += std::string(width[c] - cells[c].size() + 2, ' ');
    }
    std::printf("%s\n", out.c_str());
  };
  line(header);
  for (const auto& row : rows) line(row);
}

std::string str(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_null()) return "-";
  if (j.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.4g", j.get<double>());
    return buf;
  }
  return j.dump();
}

std::string formatTime(int64_t ms) {
  if (ms <= 0) return "-";
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

}  // namespace lb::lbctl
