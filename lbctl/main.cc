// lbctl: the CLI for operators and pipelines, for both lbproxy's admin API and lbcontrol's API.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "common/uri.h"
#include "config/control_loader.h"
#include "config/loader.h"
#include "config/values.h"
#include "controlplane/model/rollout.h"
#include "lbctl/client.h"
#include "lbctl/routes.h"

namespace lb::lbctl {
namespace {

using nlohmann::json;

const char* kExitCodes =
    "Exit codes: 0 succeeded, 1 error, 2 usage, 3 rolled back, 4 waiting for approval,\n"
    "5 paused, 6 timed out.\n"
    "Servers and tokens: --proxy/--control and --token, or LBCTL_PROXY (default\n"
    "http://127.0.0.1:9901), LBCTL_CONTROL (default http://127.0.0.1:9902), LBCTL_TOKEN,\n"
    "LBCTL_PROXY_TOKEN, LBCTL_CONTROL_TOKEN.";

std::string env(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

int printOrJson(const Options& o, const Reply& r, const std::string& what,
                const std::function<void(const json&)>& table) {
  if (!r.ok()) return fail(what, r);
  if (o.json)
    std::printf("%s\n", r.body.dump(2).c_str());
  else
    table(r.body);
  return kOk;
}

// ---- proxy ------------------------------------------------------------------------------

using client::hostPath;

void hostsTable(const json& cluster) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& h : cluster["hosts"]) {
    std::string labels;
    const json host_labels = h.value("labels", json::object());
    for (const auto& [k, v] : host_labels.items())
      labels += (labels.empty() ? "" : ",") + k + "=" + str(v);
    rows.push_back({str(cluster["name"]), str(h["id"]), str(h["address"]), str(h["state"]),
                    str(h["health"]), h.value("usable", false) ? "yes" : "no",
                    str(h["active_requests"]), str(h["weight"]), labels});
  }
  printTable(
      {"CLUSTER", "HOST", "ADDRESS", "STATE", "HEALTH", "USABLE", "ACTIVE", "WEIGHT", "LABELS"},
      rows);
}

int setState(const Options& o, const std::string& cluster, const std::string& host,
             const std::string& state, const std::string& deadline, bool wait, int timeout_s) {
  json body{{"state", state}};
  if (!deadline.empty()) body["deadline"] = deadline;
  Reply r = call(o.proxy, "PUT", hostPath(cluster, host, "/state"), body);
  if (!r.ok()) return fail(state + " " + host, r);
  if (wait && state != "ready") {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (!r.body.value("drained", false)) {
      if (std::chrono::steady_clock::now() > until) {
        std::fprintf(stderr, "lbctl: %s still has %s request(s) in flight after %ds\n",
                     host.c_str(), str(r.body["active_requests"]).c_str(), timeout_s);
        return kTimedOut;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      r = call(o.proxy, "GET", hostPath(cluster, host));
      if (!r.ok()) return fail("drain " + host, r);
    }
  }
  if (o.json) {
    std::printf("%s\n", r.body.dump(2).c_str());
  } else {
    std::printf("%s/%s: %s, %s, %s request(s) in flight%s\n", cluster.c_str(), host.c_str(),
                str(r.body["state"]).c_str(), str(r.body["health"]).c_str(),
                str(r.body["active_requests"]).c_str(),
                r.body.value("drained", false) ? ", drained" : "");
  }
  return kOk;
}

int configCheck(const std::string& path) {
  std::vector<config::ConfigError> errors;
  if (config::isControlConfigFile(path))
    errors = config::loadControlConfigFile(path).errors;
  else
    errors = config::loadProxyConfigFile(path).errors;
  for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.toString().c_str());
  if (!errors.empty()) {
    std::fprintf(stderr, "%s: %zu error(s)\n", path.c_str(), errors.size());
    return kError;
  }
  std::printf("%s: ok\n", path.c_str());
  return kOk;
}

// ---- control plane ----------------------------------------------------------------------

// The exit code a rollout's status ends `rollout status --watch` with; -1 while it goes on.
int exitForStatus(const std::string& name) {
  using controlplane::RolloutStatus;
  auto status = controlplane::parseRolloutStatus(name);
  if (!status) {  // a newer server's: say so rather than wait for ever
    std::fprintf(stderr, "lbctl: unknown rollout status \"%s\"\n", name.c_str());
    return kError;
  }
  switch (*status) {
    case RolloutStatus::kSucceeded:
      return kOk;
    case RolloutStatus::kRolledBack:
      return kRolledBack;
    case RolloutStatus::kWaitingApproval:
      return kWaitingApproval;
    case RolloutStatus::kPaused:
      return kPaused;
    case RolloutStatus::kAborted:
    case RolloutStatus::kFailed:
      return kError;
    case RolloutStatus::kRunning:
    case RolloutStatus::kWatching:
    case RolloutStatus::kRollingBack:
      return -1;
  }
  return -1;
}

std::string progressLine(const json& r) {
  std::string phases;
  const json counts = r.value("phases", json::object());
  for (const auto& [k, v] : counts.items())
    phases += (phases.empty() ? "" : " ") + k + "=" + str(v);
  std::string line = str(r["id"]) + " " + str(r["version"]) + ": " + str(r["status"]) + ", " +
                     str(r["instances_on_version"]) + "/" + str(r["instances_wanted"]) +
                     " on version [" + phases + "]";
  if (!str(r["last_analysis"]).empty() && r["last_analysis"] != "")
    line += "; analysis: " + str(r["last_analysis"]);
  if (r.value("reason", "") != "") line += "; reason: " + str(r["reason"]);
  return line;
}

void rolloutTable(const json& r) {
  printTable({"FIELD", "VALUE"},
             {{"rollout", str(r["id"])},
              {"kind", str(r["kind"])},
              {"version", str(r["version"])},
              {"from", r["from_version"] == "" ? "-" : str(r["from_version"])},
              {"status", str(r["status"])},
              {"on version", str(r["instances_on_version"]) + "/" + str(r["instances_wanted"])},
              {"requested by", str(r["requested_by"])},
              {"started", formatTime(r.value("created_ms", int64_t{0}))},
              {"ended", formatTime(r.value("ended_ms", int64_t{0}))},
              {"analysis", r["last_analysis"] == "" ? "-" : str(r["last_analysis"])},
              {"reason", r["reason"] == "" ? "-" : str(r["reason"])}});
}

// Follows a rollout until it ends or needs someone: prints each change of its progress.
int follow(const Options& o, const std::string& id, int timeout_s, bool quiet_json) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  std::string last;
  for (;;) {
    Reply r = call(o.control, "GET", "/v1/rollout");
    if (!r.ok()) return fail("rollout status", r);
    if (r.body.value("id", "") != id) {
      std::fprintf(stderr, "lbctl: rollout %s is no longer the current one\n", id.c_str());
      return kError;
    }
    std::string line = progressLine(r.body);
    if (line != last && !quiet_json) std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    last = line;
    int code = exitForStatus(r.body.value("status", ""));
    if (code >= 0) {
      if (quiet_json) std::printf("%s\n", r.body.dump(2).c_str());
      if (code == kRolledBack)
        std::fprintf(stderr, "lbctl: rolled back: %s\n", str(r.body["reason"]).c_str());
      return code;
    }
    if (std::chrono::steady_clock::now() > until) {
      std::fprintf(stderr, "lbctl: rollout %s still %s after %ds\n", id.c_str(),
                   str(r.body["status"]).c_str(), timeout_s);
      return kTimedOut;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

// The options every subcommand shares. Global flags are accepted before or after the
// subcommand (kubectl's habit: `lbctl history -o json`).
struct Globals {
  Options o;
  std::string token;
  std::string output = "table";
  // The servers and tokens as flags and environment say, once parsing is done.
  Options resolve() const {
    Options r = o;
    r.json = output == "json";
    r.proxy.token = env("LBCTL_PROXY_TOKEN", token.empty() ? env("LBCTL_TOKEN", "") : token);
    r.control.token = env("LBCTL_CONTROL_TOKEN", token.empty() ? env("LBCTL_TOKEN", "") : token);
    return r;
  }
};

// Each add* function declares one subcommand: its options live in a struct of its own (kept
// alive by its callback) and its callback does the work and sets the exit code.
using Code = std::shared_ptr<int>;

void addProxyCommands(CLI::App& app, const Globals& g, const Code& code) {
  app.add_subcommand("clusters", "list clusters and their hosts (lbproxy)")->callback([&g, code] {
    *code = printOrJson(g.resolve(), call(g.resolve().proxy, "GET", "/v1/clusters"), "clusters",
                        [](const json& b) {
                          for (const auto& c : b["clusters"]) hostsTable(c);
                        });
  });

  auto cluster = std::make_shared<std::string>("app");
  auto* hosts = app.add_subcommand("hosts", "list a cluster's hosts (lbproxy)");
  hosts->add_option("cluster", *cluster, "cluster name")->required();
  hosts->callback([&g, code, cluster] {
    const Options o = g.resolve();
    *code =
        printOrJson(o, call(o.proxy, "GET", "/v1/clusters/" + common::escapePathSegment(*cluster)),
                    "hosts", hostsTable);
  });

  struct StateArgs {
    std::string cluster, host, deadline;
    bool wait = false;
    int timeout_s = 1800;
  };
  for (const auto& [name, state, help] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"drain", "drain", "take a host out of traffic; requests in flight finish"},
           {"undrain", "ready", "put a host back in traffic"},
           {"maint", "maint", "maintenance: out of traffic and health checks"}}) {
    auto a = std::make_shared<StateArgs>();
    auto* c = app.add_subcommand(name, help);
    c->add_option("cluster", a->cluster)->required();
    c->add_option("host", a->host)->required();
    if (state == "drain") {
      c->add_flag("--wait", a->wait, "wait until no request is in flight on it");
      c->add_option("--deadline", a->deadline,
                    "cut requests still in flight after this (e.g. 30s)");
      c->add_option("--timeout", a->timeout_s, "seconds --wait waits at most");
    }
    c->callback([&g, code, a, state = state] {
      *code = setState(g.resolve(), a->cluster, a->host, state, a->deadline, a->wait, a->timeout_s);
    });
  }

  struct HostArgs {
    std::string cluster, host, address;
    int weight = 1;
    std::vector<std::string> labels;
    bool force = false;
  };
  auto w = std::make_shared<HostArgs>();
  auto* weight_cmd = app.add_subcommand("weight", "set a host's weight");
  weight_cmd->add_option("cluster", w->cluster)->required();
  weight_cmd->add_option("host", w->host)->required();
  weight_cmd->add_option("weight", w->weight)
      ->required()
      ->check(CLI::Range(config::kMinWeight, config::kMaxWeight));
  weight_cmd->callback([&g, code, w] {
    const Options o = g.resolve();
    *code = printOrJson(
        o,
        call(o.proxy, "PUT", hostPath(w->cluster, w->host, "/weight"), json{{"weight", w->weight}}),
        "weight", [](const json& h) {
          std::printf("%s: weight %s\n", str(h["id"]).c_str(), str(h["weight"]).c_str());
        });
  });

  auto add = std::make_shared<HostArgs>();
  auto* add_host = app.add_subcommand("add-host", "add a host to a cluster");
  add_host->add_option("cluster", add->cluster)->required();
  add_host->add_option("host", add->host, "host id")->required();
  add_host->add_option("address", add->address, "IP:PORT")->required();
  add_host->add_option("--weight", add->weight)
      ->check(CLI::Range(config::kMinWeight, config::kMaxWeight));
  add_host->add_option("--label", add->labels, "KEY=VALUE (repeatable)");
  add_host->callback([&g, code, add] {
    json body{{"id", add->host}, {"address", add->address}, {"weight", add->weight}};
    json l = json::object();
    for (const auto& kv : add->labels) {
      size_t eq = kv.find('=');
      if (eq == std::string::npos) {
        std::fprintf(stderr, "lbctl: --label must be KEY=VALUE, got \"%s\"\n", kv.c_str());
        *code = kUsage;
        return;
      }
      l[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    body["labels"] = l;
    const Options o = g.resolve();
    *code = printOrJson(
        o,
        call(o.proxy, "POST", "/v1/clusters/" + common::escapePathSegment(add->cluster) + "/hosts",
             body),
        "add-host", [](const json& h) {
          std::printf("%s added: %s, %s\n", str(h["id"]).c_str(), str(h["state"]).c_str(),
                      str(h["health"]).c_str());
        });
  });

  auto rm = std::make_shared<HostArgs>();
  auto* remove_host = app.add_subcommand("remove-host", "remove a drained host");
  remove_host->add_option("cluster", rm->cluster)->required();
  remove_host->add_option("host", rm->host)->required();
  remove_host->add_flag("--force", rm->force, "remove even if requests are in flight");
  remove_host->callback([&g, code, rm] {
    const Options o = g.resolve();
    *code = printOrJson(
        o, call(o.proxy, "DELETE", hostPath(rm->cluster, rm->host, rm->force ? "?force=true" : "")),
        "remove-host", [rm](const json&) { std::printf("%s removed\n", rm->host.c_str()); });
  });

  app.add_subcommand("routes", "list routes and their weighted destinations (lbproxy)")
      ->callback([&g, code] {
        const Options o = g.resolve();
        *code = printOrJson(o, call(o.proxy, "GET", "/v1/routes"), "routes", routesTable);
      });

  struct SplitArgs {
    std::string route;
    std::vector<std::string> destinations;
    bool reset = false;
  };
  auto sp = std::make_shared<SplitArgs>();
  auto* split = app.add_subcommand(
      "split",
      "set a route's weighted destinations without a reload, e.g. lbctl split api "
      "'app{version=1.0.0}=90' 'app{version=1.1.0}=10'");
  split->add_option("route", sp->route)->required();
  split->add_option("destinations", sp->destinations, "CLUSTER[{LABEL=VALUE,...}]=WEIGHT ...");
  split->add_flag("--reset", sp->reset, "go back to the config file's destinations");
  split->callback([&g, code, sp] {
    const Options o = g.resolve();
    const std::string path = "/v1/routes/" + common::escapePathSegment(sp->route) + "/destinations";
    auto show = [](const json& r) { routesTable(json{{"routes", json::array({r})}}); };
    if (sp->reset == !sp->destinations.empty()) {
      std::fprintf(stderr, "lbctl: give destinations or --reset\n");
      *code = kUsage;
      return;
    }
    if (sp->reset) {
      *code = printOrJson(o, call(o.proxy, "DELETE", path), "split", show);
      return;
    }
    json list = json::array();
    for (const auto& arg : sp->destinations) {
      std::string error;
      auto d = parseDestinationArg(arg, &error);
      if (!d) {
        std::fprintf(stderr, "lbctl: %s\n", error.c_str());
        *code = kUsage;
        return;
      }
      list.push_back(*d);
    }
    *code = printOrJson(o, call(o.proxy, "PUT", path, json{{"destinations", list}}), "split", show);
  });

  auto window = std::make_shared<std::string>("60s");
  auto* stats = app.add_subcommand("stats", "traffic per route and host over a window");
  stats->add_option("--window", *window, "1s to 5m");
  stats->callback([&g, code, window] {
    const Options o = g.resolve();
    *code = printOrJson(
        o, call(o.proxy, "GET", "/v1/stats?window=" + common::escapePathSegment(*window)), "stats",
        [](const json& b) {
          std::vector<std::vector<std::string>> rows;
          for (const auto& [name, r] : b["routes"].items())
            rows.push_back({name, str(r["requests"]), str(r["rps"]), str(r["error_rate"]),
                            str(r["latency_ms"]["p50"]), str(r["latency_ms"]["p99"])});
          printTable({"ROUTE", "REQUESTS", "RPS", "ERROR_RATE", "P50_MS", "P99_MS"}, rows);
        });
  });

  app.add_subcommand("reload", "re-read lbproxy's config file")->callback([&g, code] {
    const Options o = g.resolve();
    *code = printOrJson(o, call(o.proxy, "POST", "/v1/config/reload"), "reload", [](const json& b) {
      std::printf("reloaded: config version %s\n", str(b["config_version"]).c_str());
      const json warnings = b.value("warnings", json::array());
      for (const auto& warning : warnings) std::printf("warning: %s\n", str(warning).c_str());
    });
  });

  auto* config_cmd = app.add_subcommand("config", "configuration files");
  config_cmd->require_subcommand(1);
  auto file = std::make_shared<std::string>();
  auto* check = config_cmd->add_subcommand("check", "validate an lbproxy or lbcontrol file");
  check->add_option("file", *file)->required();
  check->callback([code, file] { *code = configCheck(*file); });
}

void addControlCommands(CLI::App& app, const Globals& g, const Code& code) {
  struct RolloutArgs {
    std::string version, reason, to;
    bool wait = false;
    int timeout_s = 1800;
  };
  // deploy and rollback: start a rollout, and with --wait follow it to its end.
  auto started = [&g, code](const Reply& r, const char* what, const RolloutArgs& a) {
    const Options o = g.resolve();
    if (!r.ok()) {
      *code = fail(what, r);
      return;
    }
    if (!a.wait) {
      std::printf("%s\n", o.json ? r.body.dump(2).c_str() : progressLine(r.body).c_str());
      *code = kOk;
      return;
    }
    *code = follow(o, r.body.value("id", ""), a.timeout_s, o.json);
  };
  auto d = std::make_shared<RolloutArgs>();
  auto* deploy = app.add_subcommand("deploy", "roll a version out (lbcontrol)");
  deploy->add_option("version", d->version)->required();
  deploy->add_option("--reason", d->reason, "recorded in the audit log");
  deploy->add_flag("--wait", d->wait, "follow it to the end; the exit code says how it ended");
  deploy->add_option("--timeout", d->timeout_s, "seconds --wait waits at most (exit 6)");
  deploy->callback([&g, d, started] {
    started(call(g.resolve().control, "POST", "/v1/deploys",
                 json{{"version", d->version}, {"reason", d->reason}}),
            "deploy", *d);
  });
  auto rb = std::make_shared<RolloutArgs>();
  auto* rollback = app.add_subcommand("rollback", "roll back the current rollout, or to a release");
  rollback->add_option("--to", rb->to, "version from the history (default: the previous release)");
  rollback->add_option("--reason", rb->reason, "recorded in the audit log");
  rollback->add_flag("--wait", rb->wait, "follow it to the end");
  rollback->add_option("--timeout", rb->timeout_s, "seconds --wait waits at most (exit 6)");
  rollback->callback([&g, rb, started] {
    started(call(g.resolve().control, "POST", "/v1/rollback",
                 json{{"to", rb->to}, {"reason", rb->reason}}),
            "rollback", *rb);
  });

  auto* rollout = app.add_subcommand("rollout", "the current rollout");
  rollout->require_subcommand(1);
  auto st = std::make_shared<RolloutArgs>();
  auto watch = std::make_shared<bool>(false);
  auto* status = rollout->add_subcommand("status", "show it");
  status->add_flag("--watch", *watch, "follow it until it ends or needs someone");
  status->add_option("--timeout", st->timeout_s, "seconds --watch waits at most (exit 6)");
  status->callback([&g, code, st, watch] {
    const Options o = g.resolve();
    Reply r = call(o.control, "GET", "/v1/rollout");
    if (!r.ok()) {
      *code = fail("rollout status", r);
      return;
    }
    if (*watch) {
      *code = follow(o, r.body.value("id", ""), st->timeout_s, o.json);
      return;
    }
    const int printed = printOrJson(o, r, "rollout status", rolloutTable);
    const int state_code = exitForStatus(r.body.value("status", ""));
    *code = printed != kOk
                ? printed
                : (state_code == kWaitingApproval || state_code == kPaused ? state_code : kOk);
  });
  for (const char* action : {"pause", "resume", "abort", "approve"}) {
    auto reason = std::make_shared<std::string>();
    auto* c = rollout->add_subcommand(action, std::string(action) + " the current rollout");
    c->add_option("--reason", *reason, "recorded in the audit log");
    c->callback([&g, code, reason, action = std::string(action)] {
      const Options o = g.resolve();
      *code = printOrJson(
          o, call(o.control, "POST", "/v1/rollout/" + action, json{{"reason", *reason}}), action,
          [](const json& r) { std::printf("%s\n", progressLine(r).c_str()); });
    });
  }

  app.add_subcommand("history", "the last releases")->callback([&g, code] {
    const Options o = g.resolve();
    *code = printOrJson(o, call(o.control, "GET", "/v1/releases"), "history", [](const json& b) {
      std::vector<std::vector<std::string>> rows;
      for (const auto& r : b["releases"])
        rows.push_back({str(r["version"]), str(r["outcome"]),
                        formatTime(r.value("started_ms", int64_t{0})),
                        formatTime(r.value("ended_ms", int64_t{0})), str(r["rollout_id"]),
                        r["reason"] == "" ? "-" : str(r["reason"])});
      std::printf("current release: %s\n", str(b["current_version"]).c_str());
      printTable({"VERSION", "OUTCOME", "STARTED", "ENDED", "ROLLOUT", "REASON"}, rows);
    });
  });
  app.add_subcommand("instances", "the instances lbcontrol runs")->callback([&g, code] {
    const Options o = g.resolve();
    *code = printOrJson(o, call(o.control, "GET", "/v1/instances"), "instances", [](const json& b) {
      std::vector<std::vector<std::string>> rows;
      for (const auto& i : b["instances"]) {
        std::string seen;
        for (const auto& v : i["proxies"])
          seen += (seen.empty() ? "" : ",") + str(v["state"]) + "/" + str(v["health"]);
        rows.push_back({str(i["id"]), str(i["version"]), str(i["address"]), str(i["phase"]),
                        seen.empty() ? "-" : seen, str(i["pid"]),
                        i["note"] == "" ? "-" : str(i["note"])});
      }
      printTable({"INSTANCE", "VERSION", "ADDRESS", "PHASE", "PROXIES", "PID", "NOTE"}, rows);
    });
  });
}

int run(int argc, char** argv) {
  CLI::App app{"lbctl - drive lbproxy and lbcontrol"};
  app.footer(kExitCodes);
  app.require_subcommand(1);
  app.fallthrough();  // the global options below, after the subcommand as well
  Globals g;
  g.o.proxy.url = env("LBCTL_PROXY", "http://127.0.0.1:9901");
  g.o.control.url = env("LBCTL_CONTROL", "http://127.0.0.1:9902");
  app.add_option("--proxy", g.o.proxy.url, "lbproxy admin URL");
  app.add_option("--control", g.o.control.url, "lbcontrol URL");
  app.add_option("--token", g.token, "bearer token for both (or LBCTL_*TOKEN)");
  app.add_option("-o,--output", g.output, "table or json")->check(CLI::IsMember({"table", "json"}));
  auto code = std::make_shared<int>(kUsage);  // a subcommand's callback sets it
  addProxyCommands(app, g, code);
  addControlCommands(app, g, code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return e.get_exit_code() == 0 ? kOk : (rc == 0 ? kOk : kUsage);
  }
  return *code;
}

}  // namespace
}  // namespace lb::lbctl

int main(int argc, char** argv) { return lb::lbctl::run(argc, argv); }
