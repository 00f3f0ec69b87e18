#include "config/control_loader.h"

#include "common/uri.h"
#include "config/yaml_reader.h"

namespace lb::config {

const char* approvalModeName(ApprovalMode mode) {
  switch (mode) {
    case ApprovalMode::kNone:
      return "none";
    case ApprovalMode::kFirstStep:
      return "first_step";
    case ApprovalMode::kEveryStep:
      return "every_step";
  }
  return "none";
}

namespace {

void readProxy(Reader& r, const YAML::Node& node, const std::string& path, ProxyEndpoint* p) {
  p->mark = markOf(node);
  if (!r.expectMap(node, path, {"admin", "token_file"})) return;
  r.string(node, "admin", path, &p->admin, true);
  r.string(node, "token_file", path, &p->token_file, false);
  if (!p->admin.empty() && !parseAdminUrl(p->admin))
    r.error(node["admin"], Reader::join(path, "admin"),
            "invalid admin URL " + quoted(p->admin) + " (expected http://IP:PORT)");
}

void readPorts(Reader& r, const YAML::Node& node, const std::string& path, DriverConfig* d) {
  std::string text;
  if (!r.scalar(node, path, &text)) return;
  size_t dash = text.find('-');
  auto num = [](const std::string& s) -> int {
    if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos)
      return -1;
    int v = std::stoi(s);
    return v >= 1 && v <= 65535 ? v : -1;
  };
  int lo = num(text.substr(0, dash));
  int hi = dash == std::string::npos ? lo : num(text.substr(dash + 1));
  if (lo < 0 || hi < 0 || hi < lo) {
    r.error(node, path, "invalid port range " + quoted(text) + " (e.g. 9101-9199)");
    return;
  }
  d->port_min = static_cast<uint16_t>(lo);
  d->port_max = static_cast<uint16_t>(hi);
}

void readDriver(Reader& r, const YAML::Node& node, const std::string& path, DriverConfig* d) {
  d->mark = markOf(node);
  if (!r.expectMap(node, path,
                   {"kind", "command", "host", "ports", "log_dir", "stop_grace", "start", "stop",
                    "address", "command_timeout"}))
    return;
  std::string kind;
  r.string(node, "kind", path, &kind, true);
  if (kind == "process") {
    d->kind = DriverKind::kProcess;
  } else if (kind == "exec") {
    d->kind = DriverKind::kExec;
  } else if (!kind.empty()) {
    r.error(node["kind"], Reader::join(path, "kind"),
            "unknown driver " + quoted(kind) + " (expected process or exec)");
    return;
  }
  r.string(node, "host", path, &d->host, false);
  if (!parseHostPort(d->host + ":1", false) && !parseHostPort("[" + d->host + "]:1", false))
    r.error(node["host"], Reader::join(path, "host"), "expected an IP address");
  if (YAML::Node ports = node["ports"]) readPorts(r, ports, Reader::join(path, "ports"), d);
  r.duration(node, "stop_grace", path, &d->stop_grace);
  r.duration(node, "command_timeout", path, &d->command_timeout);
  auto forbid = [&](const char* key) {
    if (node[key])
      r.error(node[key], Reader::join(path, key),
              std::string("not used by the ") + kind + " driver");
  };
  if (d->kind == DriverKind::kProcess) {
    r.string(node, "command", path, &d->command, true);
    r.string(node, "log_dir", path, &d->log_dir, false);
    if (!d->command.empty() && d->command.find("{port}") == std::string::npos)
      r.error(node["command"], Reader::join(path, "command"),
              "must contain {port}: each instance listens on the port lbcontrol gives it");
    if (!node["ports"]) r.error(node, Reader::join(path, "ports"), "missing required field");
    forbid("start");
    forbid("stop");
    forbid("address");
  } else {
    r.string(node, "start", path, &d->start, true);
    r.string(node, "stop", path, &d->stop, true);
    r.string(node, "address", path, &d->address, false);
    forbid("command");
    forbid("log_dir");
  }
}

void readInstances(Reader& r, const YAML::Node& node, InstancesConfig* in) {
  const std::string path = "instances";
  in->mark = markOf(node);
  if (!r.expectMap(node, path, {"count", "id_prefix", "initial_version", "driver"})) return;
  r.number(node, "count", path, &in->count, 1, 1000);
  r.string(node, "id_prefix", path, &in->id_prefix, false);
  r.string(node, "initial_version", path, &in->initial_version, false);
  if (YAML::Node d = node["driver"])
    readDriver(r, d, "instances.driver", &in->driver);
  else
    r.error(node, "instances.driver", "missing required field");
}

void readPolicy(Reader& r, const YAML::Node& node, RolloutPolicy* p) {
  const std::string path = "rollout";
  if (!r.expectMap(node, path,
                   {"max_surge", "max_unavailable", "health_gate", "drain_timeout", "bake_time",
                    "watch_window", "analysis", "auto_rollback", "approval", "history"}))
    return;
  r.number(node, "max_surge", path, &p->max_surge, 0, 100);
  r.number(node, "max_unavailable", path, &p->max_unavailable, 0, 100);
  if (p->max_surge == 0 && p->max_unavailable == 0)
    r.error(node, "rollout.max_surge",
            "max_surge and max_unavailable cannot both be 0: the rollout could never start a new "
            "instance");
  if (YAML::Node g = node["health_gate"]) {
    const std::string gp = "rollout.health_gate";
    if (r.expectMap(g, gp, {"path", "checks", "min_healthy_time", "deadline"})) {
      r.string(g, "path", gp, &p->health_gate.path, false);
      if (!p->health_gate.path.starts_with("/"))
        r.error(g["path"], gp + ".path", "must start with /");
      r.number(g, "checks", gp, &p->health_gate.checks, 1, 100);
      r.duration(g, "min_healthy_time", gp, &p->health_gate.min_healthy_time, true);
      r.duration(g, "deadline", gp, &p->health_gate.deadline);
    }
  }
  r.duration(node, "drain_timeout", path, &p->drain_timeout);
  r.duration(node, "bake_time", path, &p->bake_time, true);
  r.duration(node, "watch_window", path, &p->watch_window, true);
  if (YAML::Node a = node["analysis"]) {
    const std::string ap = "rollout.analysis";
    if (r.expectMap(a, ap,
                    {"interval", "min_requests", "max_error_rate", "max_p99", "max_p99_ratio",
                     "failing_intervals"})) {
      AnalysisConfig& an = p->analysis;
      r.duration(a, "interval", ap, &an.interval);
      if (an.interval.count() % 1000 != 0)
        r.error(a["interval"], ap + ".interval",
                "must be whole seconds (the proxies' statistics have 1 s resolution)");
      r.number(a, "min_requests", ap, &an.min_requests, 1, 1000000);
      r.fraction(a, "max_error_rate", ap, &an.max_error_rate);
      r.duration(a, "max_p99", ap, &an.max_p99, true);
      if (YAML::Node ratio = a["max_p99_ratio"]) {
        std::string text;
        if (r.scalar(ratio, ap + ".max_p99_ratio", &text)) {
          char* end = nullptr;
          double v = std::strtod(text.c_str(), &end);
          if (text.empty() || *end != '\0' || !(v >= 1 && v <= 100))
            r.error(ratio, ap + ".max_p99_ratio",
                    "expected a number between 1 and 100, got " + quoted(text));
          else
            an.max_p99_ratio = v;
        }
      }
      r.number(a, "failing_intervals", ap, &an.failing_intervals, 1, 100);
    }
  }
  r.boolean(node, "auto_rollback", path, &p->auto_rollback);
  if (YAML::Node ap = node["approval"]) {
    std::string text;
    if (r.scalar(ap, "rollout.approval", &text)) {
      if (text == "none")
        p->approval = ApprovalMode::kNone;
      else if (text == "first_step")
        p->approval = ApprovalMode::kFirstStep;
      else if (text == "every_step")
        p->approval = ApprovalMode::kEveryStep;
      else
        r.error(
            ap, "rollout.approval",
            "unknown approval mode " + quoted(text) + " (expected none, first_step or every_step)");
    }
  }
  r.number(node, "history", path, &p->history, 1, 100);
}

void readRoot(Reader& r, const YAML::Node& root, ControlConfig* c) {
  if (!r.expectMap(root, "",
                   {"listen", "auth", "state_dir", "cluster", "version_label", "proxies",
                    "instances", "rollout"}))
    return;
  r.string(root, "listen", "", &c->listen, false);
  if (YAML::Node auth = root["auth"]) {
    if (r.expectMap(auth, "auth", {"tokens_file"}))
      r.string(auth, "tokens_file", "auth", &c->auth.tokens_file, false);
  }
  if (!parseHostPort(c->listen, true))
    r.error(root["listen"] ? root["listen"] : root, "listen",
            "invalid address " + quoted(c->listen) + " (expected IP:PORT or [IPv6]:PORT)");
  else if (c->auth.tokens_file.empty() && !isLoopbackAddress(c->listen))
    r.error(root["listen"], "listen",
            "a non-loopback address needs auth.tokens_file (the API deploys and rolls back)");
  r.string(root, "state_dir", "", &c->state_dir, true);
  r.string(root, "cluster", "", &c->cluster, true);
  r.string(root, "version_label", "", &c->version_label, false);
  YAML::Node proxies = root["proxies"];
  if (!proxies) {
    r.error(root, "proxies", "missing required field");
  } else if (!proxies.IsSequence() || proxies.size() == 0) {
    r.error(proxies, "proxies", "expected a non-empty list of proxies");
  } else {
    std::set<std::string> seen;
    for (size_t i = 0; i < proxies.size(); ++i) {
      ProxyEndpoint p;
      readProxy(r, proxies[i], Reader::index("proxies", i), &p);
      if (!p.admin.empty() && !seen.insert(p.admin).second)
        r.error(proxies[i]["admin"], Reader::index("proxies", i) + ".admin",
                "proxy " + quoted(p.admin) + " is listed twice");
      c->proxies.push_back(std::move(p));
    }
  }
  if (YAML::Node in = root["instances"])
    readInstances(r, in, &c->instances);
  else
    r.error(root, "instances", "missing required field");
  if (c->instances.id_prefix.empty()) c->instances.id_prefix = c->cluster;
  if (YAML::Node ro = root["rollout"]) readPolicy(r, ro, &c->rollout);
  const DriverConfig& d = c->instances.driver;
  if (d.kind == DriverKind::kProcess && d.port_min != 0) {
    const uint32_t needed = c->instances.count + c->rollout.max_surge;
    if (static_cast<uint32_t>(d.port_max - d.port_min + 1) < needed)
      r.error(root["instances"]["driver"]["ports"], "instances.driver.ports",
              "the range has " + std::to_string(d.port_max - d.port_min + 1) +
                  " ports; count + max_surge needs " + std::to_string(needed));
  }
  if (c->rollout.max_unavailable >= c->instances.count && root["rollout"])
    r.error(
        root["rollout"]["max_unavailable"] ? root["rollout"]["max_unavailable"] : root["rollout"],
        "rollout.max_unavailable",
        "must be less than instances.count (or nothing would serve during a rollout)");
}

ControlLoadResult load(const std::function<YAML::Node()>& loader, const std::string& source) {
  ControlLoadResult result;
  result.config.source = source;
  result.errors = readYaml(loader, source, [&](Reader& r, const YAML::Node& root) {
    readRoot(r, root, &result.config);
  });
  return result;
}

}  // namespace

bool isControlConfigFile(const std::string& path) {
  try {
    YAML::Node root = YAML::LoadFile(path);
    return root.IsMap() && root["proxies"] && !root["listeners"];
  } catch (const YAML::Exception&) {
    return false;  // the proxy loader reports the syntax error
  }
}

ControlLoadResult loadControlConfigFile(const std::string& path) {
  return load([&] { return YAML::LoadFile(path); }, path);
}

ControlLoadResult loadControlConfigString(const std::string& yaml, const std::string& source_name) {
  return load([&] { return YAML::Load(yaml); }, source_name);
}

}  // namespace lb::config
