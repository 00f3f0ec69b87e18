#include "controlplane/state/journal.h"

#include <sys/stat.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/durable_file.h"

namespace lb::controlplane {

using nlohmann::json;

Journal::Journal(std::string state_dir) : dir_(std::move(state_dir)) {}

bool Journal::open(ControlState* state, std::string* error) {
  for (size_t i = 1; i <= dir_.size(); ++i)
    if (i == dir_.size() || dir_[i] == '/') mkdir(dir_.substr(0, i).c_str(), 0755);
  struct stat st {};
  if (stat(dir_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    *error = "state_dir " + dir_ + " cannot be created";
    return false;
  }
  std::string text;
  const std::string path = dir_ + "/journal.json";
  if (!common::readWholeFile(path, &text)) return true;  // first start
  if (!fromJson(text, state, error)) {
    *error = path + ": " + *error;
    return false;
  }
  return true;
}

bool Journal::save(const ControlState& state, std::string* error) {
  return common::writeFileDurably(dir_ + "/journal.json", toJson(state).dump(1) + "\n", error);
}

void Journal::audit(const std::string& who, const std::string& action, const std::string& target,
                    const std::string& reason, const std::string& result) {
  json entry{{"time_ms", nowMs()}, {"who", who},       {"action", action},
             {"target", target},   {"reason", reason}, {"result", result}};
  std::string error;
  if (!common::appendLineDurably(dir_ + "/audit.log", entry.dump(), &error))
    std::fprintf(stderr, "lbcontrol: audit log: %s\n", error.c_str());
}

json Journal::readAudit(size_t limit) const {
  std::string text;
  json out = json::array();
  if (!common::readWholeFile(dir_ + "/audit.log", &text)) return out;
  std::istringstream in(text);
  std::vector<json> all;
  for (std::string line; std::getline(in, line);) {
    json e = json::parse(line, nullptr, false);
    if (!e.is_discarded()) all.push_back(std::move(e));
  }
  size_t from = all.size() > limit ? all.size() - limit : 0;
  for (size_t i = from; i < all.size(); ++i) out.push_back(std::move(all[i]));
  return out;
}

}  // namespace lb::controlplane
