// Runs the real lbproxy binary on a config written to a temporary file, for integration
// tests. Listeners bind port 0; the ports are read back from lbproxy's "listener" lines.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tests/support/child_process.h"

namespace lb::test {

// A fresh directory under $TMPDIR, removed with its files when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

class ProxyProcess {
 public:
  // Starts lbproxy on `yaml` and waits until it is ready. Check ok() (or use ASSERT_TRUE).
  explicit ProxyProcess(const std::string& yaml, std::vector<std::string> extra_args = {});
  // Stops lbproxy with SIGTERM and fails the test unless it exits 0: a sanitizer report or
  // a leak found at exit fails the test that caused it.
  ~ProxyProcess();
  bool ok() const { return ok_; }
  uint16_t port(const std::string& listener = "public") const;
  uint16_t adminPort() const { return admin_port_; }
  ChildProcess& process() { return child_; }
  // JSON access-log lines printed so far (access_log.path is /dev/stdout in test configs).
  std::vector<std::string> accessLog();
  // Waits until at least n access-log lines have appeared (the log is flushed in batches).
  std::vector<std::string> waitAccessLog(size_t n);
  const std::string& configPath() const { return config_path_; }

 private:
  TempDir dir_;
  std::string config_path_;
  ChildProcess child_;
  std::map<std::string, uint16_t> ports_;
  uint16_t admin_port_ = 0;
  bool ok_ = false;
};

// The path to a binary built by this tree (lbproxy, demo-instance).
std::string lbproxyBinary();
std::string demoInstanceBinary();

// Extracts "key":value (string or number, as text) from one JSON access-log line.
std::string jsonField(const std::string& line, const std::string& key);

}  // namespace lb::test
