#include "controlplane/driver/exec_driver.h"

#include "config/values.h"
#include "controlplane/driver/command.h"
#include "controlplane/driver/drivers.h"

namespace lb::controlplane {

namespace {

std::string lastLine(const std::string& text) {
  size_t end = text.find_last_not_of(" \t\r\n");
  if (end == std::string::npos) return "";
  size_t start = text.rfind('\n', end);
  start = start == std::string::npos ? 0 : start + 1;
  return text.substr(start, end - start + 1);
}

std::string failure(const char* what, const CommandResult& r) {
  std::string why = r.timed_out ? "timed out" : "exit status " + std::to_string(r.exit_code);
  std::string tail = lastLine(r.output);
  return std::string(what) + " command failed (" + why + ")" + (tail.empty() ? "" : ": " + tail);
}

}  // namespace

StartResult ExecDriver::start(const Instance& inst) {
  StartResult out;
  CommandResult r = runCommand(expandTemplate(cfg_.start, inst, cfg_.host), cfg_.command_timeout);
  if (r.exit_code != 0) {
    out.error = failure("start", r);
    return out;
  }
  std::string address = lastLine(r.output);
  if (!cfg_.address.empty()) {
    CommandResult a =
        runCommand(expandTemplate(cfg_.address, inst, cfg_.host), cfg_.command_timeout);
    if (a.exit_code != 0) {
      out.error = failure("address", a);
      return out;
    }
    address = lastLine(a.output);
  }
  if (!config::parseHostPort(address, false)) {
    out.error =
        "the instance's address must be IP:PORT on the last output line, got \"" + address + "\"";
    return out;
  }
  out.ok = true;
  out.address = address;
  stopped_[inst.id] = false;
  return out;
}

void ExecDriver::stop(const Instance& inst) {
  if (stopped_[inst.id]) return;
  CommandResult r = runCommand(expandTemplate(cfg_.stop, inst, cfg_.host), cfg_.command_timeout);
  stopped_[inst.id] = r.exit_code == 0;
}

Liveness ExecDriver::liveness(const Instance& inst, std::string* why) {
  auto it = stopped_.find(inst.id);
  if (it != stopped_.end() && it->second) {
    *why = "stopped";
    return Liveness::kExited;
  }
  return Liveness::kUnknown;
}

}  // namespace lb::controlplane
