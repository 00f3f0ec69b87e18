#include "controlplane/driver/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

namespace lb::controlplane {

CommandResult runCommand(const std::string& command, std::chrono::milliseconds timeout) {
  CommandResult result;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    result.output = "cannot create a pipe";
    return result;
  }
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    result.output = "cannot fork";
    return result;
  }
  if (pid == 0) {
    setpgid(0, 0);  // its own group, so a timeout kills everything it started
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  auto drain = [&] {
    for (;;) {
      ssize_t n = read(fds[0], buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return n == 0;  // true at end of file
      if (result.output.size() < 65536) result.output.append(buf, static_cast<size_t>(n));
    }
  };
  // Until the shell exits: a command may leave a daemon behind that still holds the pipe, so
  // the end of its output is not the end of the command.
  int status = 0;
  bool exited = false;
  while (!exited) {
    pollfd p{fds[0], POLLIN, 0};
    poll(&p, 1, 50);
    drain();
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) exited = true;
    if (!exited && std::chrono::steady_clock::now() >= deadline) {
      result.timed_out = true;
      kill(-pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      exited = true;
    }
  }
  drain();
  close(fds[0]);
  if (!result.timed_out && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

}  // namespace lb::controlplane
