// Small helpers shared by the test support code and the integration tests.
#pragma once

#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace lb::test {

// ASCII case-insensitive comparison (the support code keeps its own, independent of the
// proxy's codec).
inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Polls `done` every 10 ms until it holds or `timeout` passes; returns its last value.
template <typename Predicate>
bool waitUntil(Predicate done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// A door that a backend's thread waits at until the test opens it, so that "the request is
// in flight" is an event the test controls, not a sleep it hopes is long enough. A test that
// fails before opening it still ends: wait() gives up after `limit`. Open it before the
// backend that waits at it is destroyed (declare the gate first, open it at the end).
class Gate {
 public:
  void open() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  bool wait(std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, limit, [this] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Runs a shell command; returns its exit code and appends its stdout and stderr to *out.
inline int runShell(const std::string& cmd, std::string* out) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof(buf), p)) out->append(buf, n);
  int rc = pclose(p);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// Writes a self-signed P-256 certificate for `names` (subjectAltName DNS entries; the first is
// also the CN) to dir/stem.crt and its key to dir/stem.key, with the openssl tool. True on success.
inline bool makeCertificate(const std::string& dir, const std::string& stem,
                            const std::vector<std::string>& names) {
  std::string san;
  for (const auto& n : names) san += (san.empty() ? "DNS:" : ",DNS:") + n;
  std::string out;
  return runShell(
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2"
             " -subj /CN=" +
                 names.at(0) + " -addext subjectAltName=" + san + " -keyout " + dir + "/" + stem +
                 ".key -out " + dir + "/" + stem + ".crt",
             &out) == 0;
}

// Writes a test CA (self-signed P-256, CA:TRUE) to dir/stem.crt and dir/stem.key.
inline bool makeCa(const std::string& dir, const std::string& stem) {
  std::string out;
  return runShell(
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2"
             " -subj /CN=" +
                 stem + "-ca -addext basicConstraints=critical,CA:TRUE" +
                 " -addext keyUsage=critical,keyCertSign,cRLSign -keyout " + dir + "/" + stem +
                 ".key -out " + dir + "/" + stem + ".crt",
             &out) == 0;
}

// Writes a P-256 certificate signed by the CA dir/ca.crt to dir/stem.crt (and its key to
// dir/stem.key), with subjectAltName `san` ("DNS:a.test,IP:127.0.0.1"; "" = none) and CN `cn`.
inline bool makeSignedCertificate(const std::string& dir, const std::string& stem,
                                  const std::string& ca, const std::string& cn,
                                  const std::string& san) {
  const std::string base = dir + "/" + stem;
  std::string out;
  return runShell("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=" +
                      cn + (san.empty() ? "" : " -addext subjectAltName=" + san) + " -keyout " +
                      base + ".key -out " + base + ".csr",
                  &out) == 0 &&
         runShell("openssl x509 -req -in " + base + ".csr -CA " + dir + "/" + ca + ".crt -CAkey " +
                      dir + "/" + ca + ".key -CAcreateserial -days 2 -copy_extensions copyall" +
                      " -out " + base + ".crt",
                  &out) == 0;
}

// A fresh directory under /tmp, for files a test writes.
inline std::string makeTempDir(const std::string& prefix) {
  std::string templ = "/tmp/" + prefix + "-XXXXXX";
  return mkdtemp(templ.data()) ? templ : std::string();
}

}  // namespace lb::test
