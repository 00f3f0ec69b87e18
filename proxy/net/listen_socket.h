// Listening sockets, made on the main thread so a bind error fails at start-up.
#pragma once

#include <string>

namespace lb::net {

// Binds a non-blocking SO_REUSEPORT listening socket on "ip:port". With port 0 the kernel
// picks one; *bound_port tells which (pass it back to bind the other workers' sockets).
// Returns -1 and sets *error on failure.
int openListenSocket(const std::string& address, uint16_t port_override, uint16_t* bound_port,
                     std::string* error);

}  // namespace lb::net
