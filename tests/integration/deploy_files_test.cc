// The shipped systemd units (deploy/systemd/) pass `systemd-analyze verify` with their binaries
// pointed at this build, and say what the programs need (a drain on stop, a reload by SIGHUP
// after a --check, instances that outlive lbcontrol).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "tests/support/proxy_process.h"
#include "tests/support/test_util.h"

namespace lb::test {
namespace {

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string replaceAll(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

TEST(DeployFiles, SystemdUnitsVerify) {
  const std::string dir = std::string(LB_SOURCE_DIR) + "/deploy/systemd/";
  TempDir tmp;
  std::string proxy = read(dir + "lbproxy.service");
  std::string control = read(dir + "lbcontrol.service");
  EXPECT_NE(proxy.find("ExecReload=/bin/kill -HUP $MAINPID"), std::string::npos);
  EXPECT_NE(proxy.find("ExecStartPre=/usr/local/bin/lbproxy --check"), std::string::npos);
  EXPECT_NE(control.find("KillMode=process"), std::string::npos)
      << "stopping lbcontrol must not stop the application's instances";
  std::string units =
      tmp.write("lbproxy.service", replaceAll(proxy, "/usr/local/bin/lbproxy", lbproxyBinary())) +
      " " +
      tmp.write("lbcontrol.service",
                replaceAll(control, "/usr/local/bin/lbcontrol", LB_CONTROL_BIN));
  std::string out;
  EXPECT_EQ(runShell("systemd-analyze verify " + units, &out), 0) << out;
  // And the check can fail: a unit whose binary is missing does not verify.
  std::string bad = tmp.write("bad.service", proxy);
  out.clear();
  EXPECT_NE(runShell("systemd-analyze verify " + bad, &out), 0) << out;
}

}  // namespace
}  // namespace lb::test
