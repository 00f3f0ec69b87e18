#include "tests/support/proxy_process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/support/test_util.h"

namespace lb::test {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/lbtest.XXXXXX";
  char* made = ::mkdtemp(tmpl.data());
  path_ = made ? made : "";
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, const std::string& content) const {
  std::string file = path_ + "/" + name;
  std::ofstream(file) << content;
  return file;
}

std::string lbproxyBinary() { return LB_PROXY_BIN; }
std::string demoInstanceBinary() { return LB_DEMO_INSTANCE_BIN; }

ProxyProcess::ProxyProcess(const std::string& yaml, std::vector<std::string> extra_args) {
  config_path_ = dir_.write("lbproxy.yaml", yaml);
  std::vector<std::string> argv{lbproxyBinary(), "-c", config_path_};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  if (!child_.start(argv)) return;
  if (!child_.waitForLine("lbproxy: ready", std::chrono::seconds(20))) return;
  // "lbproxy: listener NAME on HOST:PORT"
  for (const std::string& line : child_.lines()) {
    const std::string admin_prefix = "lbproxy: admin on ";  // HOST:PORT[ (note)]
    if (line.rfind(admin_prefix, 0) == 0) {
      std::string address = line.substr(admin_prefix.size());
      address = address.substr(0, address.find(' '));
      admin_port_ = static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
    }
    const std::string prefix = "lbproxy: listener ";
    if (line.rfind(prefix, 0) != 0) continue;
    size_t on = line.find(" on ", prefix.size());
    std::string name = line.substr(prefix.size(), on - prefix.size());
    ports_[name] = static_cast<uint16_t>(std::stoi(line.substr(line.rfind(':') + 1)));
  }
  ok_ = !ports_.empty();
}

ProxyProcess::~ProxyProcess() {
  if (!ok_) return;
  std::optional<int> code = child_.waitExit(std::chrono::milliseconds(0));
  if (!code) {
    child_.signal(SIGTERM);
    code = child_.waitExit(std::chrono::seconds(30));
  }
  if (code != 0)
    ADD_FAILURE() << "lbproxy exited with " << (code ? std::to_string(*code) : "nothing (hung)")
                  << "; its output:\n"
                  << child_.output();
}

uint16_t ProxyProcess::port(const std::string& listener) const {
  auto it = ports_.find(listener);
  return it == ports_.end() ? 0 : it->second;
}

std::vector<std::string> ProxyProcess::accessLog() {
  std::vector<std::string> out;
  for (auto& line : child_.lines())
    if (!line.empty() && line.front() == '{') out.push_back(line);
  return out;
}

std::vector<std::string> ProxyProcess::waitAccessLog(size_t n) {
  waitUntil([&] { return accessLog().size() >= n; }, std::chrono::seconds(10));
  return accessLog();
}

std::string jsonField(const std::string& line, const std::string& key) {
  std::string needle = "\"" + key + "\":";
  size_t at = line.find(needle);
  if (at == std::string::npos) return "";
  at += needle.size();
  if (line[at] == '"') {
    size_t end = line.find('"', at + 1);
    return line.substr(at + 1, end - at - 1);
  }
  size_t end = line.find_first_of(",}", at);
  return line.substr(at, end - at);
}

}  // namespace lb::test
