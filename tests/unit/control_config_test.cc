#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/control_loader.h"

namespace lb::config {
namespace {

const char* kValid = R"(listen: 127.0.0.1:9902
state_dir: /var/lib/lbcontrol
cluster: app
proxies:
  - admin: http://127.0.0.1:9901
    token_file: /etc/lbproxy/admin.token
  - admin: http://127.0.0.2:9901/
instances:
  count: 4
  driver:
    kind: process
    command: /opt/app/bin/app --port {port} --version {version}
    ports: 9101-9110
rollout:
  max_surge: 2
  max_unavailable: 1
  health_gate: { path: /healthz, checks: 3, min_healthy_time: 5s, deadline: 2m }
  drain_timeout: 45s
  bake_time: 30s
  watch_window: 5m
  analysis: { interval: 5s, min_requests: 50, max_error_rate: 0.002, max_p99: 800ms,
              max_p99_ratio: 1.5, failing_intervals: 4 }
  auto_rollback: false
  approval: every_step
  history: 7
)";

std::vector<std::string> errorsOf(const std::string& yaml) {
  std::vector<std::string> out;
  for (const auto& e : loadControlConfigString(yaml, "c.yaml").errors) out.push_back(e.toString());
  return out;
}

TEST(ControlConfig, ReadsEveryField) {
  ControlLoadResult r = loadControlConfigString(kValid, "c.yaml");
  ASSERT_TRUE(r.ok()) << r.errors[0].toString();
  const ControlConfig& c = r.config;
  EXPECT_EQ(c.cluster, "app");
  ASSERT_EQ(c.proxies.size(), 2u);
  EXPECT_EQ(c.proxies[0].token_file, "/etc/lbproxy/admin.token");
  EXPECT_EQ(parseAdminUrl(c.proxies[1].admin).value(), "127.0.0.2:9901");
  EXPECT_EQ(c.instances.count, 4u);
  EXPECT_EQ(c.instances.id_prefix, "app") << "defaults to the cluster name";
  EXPECT_EQ(c.instances.driver.kind, DriverKind::kProcess);
  EXPECT_EQ(c.instances.driver.port_min, 9101);
  EXPECT_EQ(c.instances.driver.port_max, 9110);
  EXPECT_EQ(c.rollout.max_surge, 2u);
  EXPECT_EQ(c.rollout.max_unavailable, 1u);
  EXPECT_EQ(c.rollout.health_gate.path, "/healthz");
  EXPECT_EQ(c.rollout.health_gate.checks, 3u);
  EXPECT_EQ(c.rollout.health_gate.deadline, Duration(120000));
  EXPECT_EQ(c.rollout.watch_window, Duration(300000));
  EXPECT_EQ(c.rollout.analysis.interval, Duration(5000));
  EXPECT_EQ(c.rollout.analysis.min_requests, 50u);
  EXPECT_DOUBLE_EQ(c.rollout.analysis.max_error_rate, 0.002);
  EXPECT_EQ(c.rollout.analysis.max_p99, Duration(800));
  EXPECT_DOUBLE_EQ(c.rollout.analysis.max_p99_ratio, 1.5);
  EXPECT_FALSE(c.rollout.auto_rollback);
  EXPECT_EQ(c.rollout.approval, ApprovalMode::kEveryStep);
  EXPECT_EQ(c.rollout.history, 7u);
}

TEST(ControlConfig, EveryErrorWithPlaceAndField) {
  auto errors = errorsOf(R"(listen: 10.0.0.1:9902
state_dir: /s
cluster: app
proxies:
  - admin: https://127.0.0.1:9901
instances:
  count: 3
  driver:
    kind: process
    command: app --version {version}
    ports: 9101-9102
rollout:
  max_surge: 0
  max_unavailable: 0
  analysis: { interval: 1500ms, max_error_rate: 2 }
  approval: sometimes
)");
  std::vector<std::string> expected = {
      "c.yaml:1:9: listen: a non-loopback address needs auth.tokens_file (the API deploys and "
      "rolls back)",
      "c.yaml:5:12: proxies[0].admin: invalid admin URL \"https://127.0.0.1:9901\" (expected "
      "http://IP:PORT)",
      "c.yaml:10:14: instances.driver.command: must contain {port}: each instance listens on the "
      "port lbcontrol gives it",
      "c.yaml:11:12: instances.driver.ports: the range has 2 ports; count + max_surge needs 3",
      "c.yaml:13:3: rollout.max_surge: max_surge and max_unavailable cannot both be 0: the "
      "rollout could never start a new instance",
      "c.yaml:15:25: rollout.analysis.interval: must be whole seconds (the proxies' statistics "
      "have 1 s resolution)",
      "c.yaml:15:49: rollout.analysis.max_error_rate: expected a fraction between 0 and 1, e.g. "
      "0.001, got \"2\"",
      "c.yaml:16:13: rollout.approval: unknown approval mode \"sometimes\" (expected none, "
      "first_step or every_step)",
  };
  EXPECT_EQ(errors, expected);
}

TEST(ControlConfig, ExecDriverNeedsItsCommandsAndRejectsProcessFields) {
  auto errors = errorsOf(R"(state_dir: /s
cluster: app
proxies: [ { admin: "http://127.0.0.1:9901" } ]
instances:
  driver: { kind: exec, start: "deploy-app {version}", command: x }
)");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0], "c.yaml:5:11: instances.driver.stop: missing required field");
  EXPECT_EQ(errors[1], "c.yaml:5:65: instances.driver.command: not used by the exec driver");
}

TEST(ControlConfig, MissingSectionsAndUnknownFields) {
  auto errors = errorsOf("cluster: app\nstate_dirr: /s\n");
  ASSERT_EQ(errors.size(), 4u);
  EXPECT_EQ(errors[0], "c.yaml:1:1: state_dir: missing required field");
  EXPECT_EQ(errors[1], "c.yaml:1:1: proxies: missing required field");
  EXPECT_EQ(errors[2], "c.yaml:1:1: instances: missing required field");
  EXPECT_EQ(errors[3],
            "c.yaml:2:1: state_dirr: unknown field \"state_dirr\" (expected one of: listen, "
            "auth, state_dir, cluster, version_label, proxies, instances, rollout)");
}

TEST(ControlConfig, ExamplesAreValid) {
  for (const char* name : {"lbcontrol-demo.yaml"}) {
    auto r = loadControlConfigFile(std::string(LB_SOURCE_DIR) + "/config/examples/" + name);
    EXPECT_TRUE(r.ok()) << name << ": " << (r.ok() ? "" : r.errors[0].toString());
  }
}

}  // namespace
}  // namespace lb::config
