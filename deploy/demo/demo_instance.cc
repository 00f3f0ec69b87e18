// demo-instance: a stand-in for one "Open Market" backend instance (spec section 2.1), used by
// the demo stack, the tests and the benchmarks. Latencies follow the spec's SLO table (5.3),
// scaled by --latency-scale (0 = answer at once). Every response carries X-Instance and
// X-App-Version so a caller can see who served it.
//
// Versions can name a failure, so a broken release can be rolled out on purpose (the demo's
// rollback, the lbcontrol tests): a version ending in "-broken" answers 500 to every /api
// request, "-unhealthy" reports DOWN on /actuator/health, "-slow" adds 1 s to every /api answer,
// "-crash" exits 3 s after it starts.
//
// Built on libevent's evhttp: a small, well-kept HTTP server is all a backend stand-in needs.
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>

namespace {

struct Options {
  std::string host = "127.0.0.1";
  int port = 9001;
  std::string instance = "app-1";
  std::string version = "1.0.0";
  double fail_rate = 0.0;
  double latency_scale = 1.0;
  double startup_delay = 0.0;
  double extra_latency_ms = 0.0;
};

struct App {
  Options opt;
  event_base* base = nullptr;
  bool healthy = true;
  uint64_t served = 0;
  std::mt19937_64 rng{std::random_device{}()};
};

App* g_app = nullptr;

struct Pending {
  evhttp_request* req;
  int status;
  std::string body;
};

void addCommonHeaders(evhttp_request* req) {
  evkeyvalq* out = evhttp_request_get_output_headers(req);
  evhttp_add_header(out, "X-Instance", g_app->opt.instance.c_str());
  evhttp_add_header(out, "X-App-Version", g_app->opt.version.c_str());
  evhttp_add_header(out, "Content-Type", "application/json");
}

void sendNow(evhttp_request* req, int status, const std::string& body) {
  addCommonHeaders(req);
  evbuffer* buf = evbuffer_new();
  evbuffer_add(buf, body.data(), body.size());
  evhttp_send_reply(req, status, status < 400 ? "OK" : "Error", buf);
  evbuffer_free(buf);
  ++g_app->served;
}

void onDelayed(evutil_socket_t, short, void* arg) noexcept {
  auto* p = static_cast<Pending*>(arg);
  sendNow(p->req, p->status, p->body);
  delete p;
}

// Mean latency per API in milliseconds (the SLO table's means, halved: a healthy instance).
double meanLatencyMs(const std::string& method, const std::string& path) {
  if (path.rfind("/api/payments", 0) == 0) return 400;
  if (path.rfind("/api/orders", 0) == 0) return 120;
  if (path.rfind("/api/cart", 0) == 0) return 40;
  if (path.rfind("/api/search", 0) == 0) return 40;
  if (path.rfind("/api/products/", 0) == 0) return 20;
  if (path.rfind("/api/products", 0) == 0) return 40;
  return method == "GET" ? 40 : 50;
}

void reply(evhttp_request* req, int status, std::string body, double mean_ms) {
  double delay_ms = 0;
  if (g_app->opt.latency_scale > 0) {
    std::exponential_distribution<double> jitter(1.0);
    delay_ms = mean_ms * g_app->opt.latency_scale * (0.5 + 0.5 * jitter(g_app->rng));
  }
  if (g_app->opt.extra_latency_ms > 0 && mean_ms > 0) delay_ms += g_app->opt.extra_latency_ms;
  if (delay_ms < 0.5) {
    sendNow(req, status, body);
    return;
  }
  auto* p = new Pending{req, status, std::move(body)};
  timeval tv{static_cast<time_t>(delay_ms / 1000),
             static_cast<suseconds_t>(static_cast<int64_t>(delay_ms * 1000) % 1000000)};
  event_base_once(g_app->base, -1, EV_TIMEOUT, onDelayed, p, &tv);
}

std::string json(const std::string& fields) {
  return "{\"instance\":\"" + g_app->opt.instance + "\",\"version\":\"" + g_app->opt.version +
         "\"" + (fields.empty() ? "" : "," + fields) + "}\n";
}

void handle(evhttp_request* req, void*) noexcept {
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
  std::string path = evhttp_uri_get_path(uri) ? evhttp_uri_get_path(uri) : "/";
  const char* query = evhttp_uri_get_query(uri);
  std::string method;
  switch (evhttp_request_get_command(req)) {
    case EVHTTP_REQ_GET:
      method = "GET";
      break;
    case EVHTTP_REQ_POST:
      method = "POST";
      break;
    case EVHTTP_REQ_PUT:
      method = "PUT";
      break;
    case EVHTTP_REQ_DELETE:
      method = "DELETE";
      break;
    case EVHTTP_REQ_HEAD:
      method = "HEAD";
      break;
    default:
      method = "OTHER";
  }
  if (path == "/actuator/health") {
    sendNow(req, g_app->healthy ? 200 : 503,
            json(std::string("\"status\":\"") + (g_app->healthy ? "UP" : "DOWN") + "\""));
    return;
  }
  if (path == "/admin/health/down" || path == "/admin/health/up") {
    if (method != "POST") return sendNow(req, 405, json("\"error\":\"use POST\""));
    g_app->healthy = path.ends_with("/up");
    std::fprintf(stderr, "%s: health %s\n", g_app->opt.instance.c_str(),
                 g_app->healthy ? "UP" : "DOWN");
    return sendNow(req, 200,
                   json(std::string("\"status\":\"") + (g_app->healthy ? "UP" : "DOWN") + "\""));
  }
  const double mean = meanLatencyMs(method, path);
  if (g_app->opt.fail_rate > 0 && path.rfind("/api/", 0) == 0) {
    std::uniform_real_distribution<double> u(0, 1);
    if (u(g_app->rng) < g_app->opt.fail_rate)
      return reply(req, 500, json("\"error\":\"injected failure\""), mean);
  }
  if (path == "/" && method == "GET") return reply(req, 200, json("\"page\":\"main\""), mean);
  if (path == "/api/products" && method == "GET")
    return reply(req, 200,
                 json("\"products\":[{\"id\":1,\"name\":\"keyboard\",\"price\":49000},"
                      "{\"id\":2,\"name\":\"mouse\",\"price\":19000},"
                      "{\"id\":3,\"name\":\"monitor\",\"price\":259000}]"),
                 mean);
  if (path.rfind("/api/products/", 0) == 0 && method == "GET") {
    std::string id = path.substr(std::strlen("/api/products/"));
    if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos)
      return reply(req, 404, json("\"error\":\"no such product\""), mean);
    return reply(req, 200, json("\"product\":{\"id\":" + id + ",\"name\":\"product " + id + "\"}"),
                 mean);
  }
  if (path == "/api/search" && method == "GET") {
    std::string q;
    if (query) {
      evkeyvalq params;
      evhttp_parse_query_str(query, &params);
      if (const char* v = evhttp_find_header(&params, "q")) q = v;
      evhttp_clear_headers(&params);
    }
    std::string safe;
    for (char c : q)
      if (std::isalnum(static_cast<unsigned char>(c)) || c == ' ') safe.push_back(c);
    return reply(req, 200, json("\"query\":\"" + safe + "\",\"hits\":2"), mean);
  }
  if ((path == "/api/cart" || path == "/api/orders" || path == "/api/payments") &&
      method == "POST") {
    size_t body_len = evbuffer_get_length(evhttp_request_get_input_buffer(req));
    return reply(req, path == "/api/cart" ? 200 : 201,
                 json("\"accepted\":true,\"received_bytes\":" + std::to_string(body_len)), mean);
  }
  return reply(req, 404, json("\"error\":\"not found\""), 0);
}

void onSignal(evutil_socket_t sig, short, void*) noexcept {
  if (sig == SIGUSR2) {
    g_app->healthy = !g_app->healthy;
    return;
  }
  event_base_loopbreak(g_app->base);
}

}  // namespace

int main(int argc, char** argv) {
  App app;
  g_app = &app;
  CLI::App cli{"demo-instance - a stand-in Open Market backend instance"};
  cli.add_option("--host", app.opt.host, "address to bind");
  cli.add_option("--port", app.opt.port, "port to bind (0 = any; printed at start)");
  cli.add_option("--instance", app.opt.instance, "instance id, sent as X-Instance");
  cli.add_option("--version", app.opt.version, "application version, sent as X-App-Version");
  cli.add_option("--fail-rate", app.opt.fail_rate, "fraction of /api requests answered 500")
      ->check(CLI::Range(0.0, 1.0));
  cli.add_option("--latency-scale", app.opt.latency_scale,
                 "multiplier of SLO-shaped latencies (0 = none)")
      ->check(CLI::NonNegativeNumber);
  cli.add_option("--startup-delay", app.opt.startup_delay, "seconds before the port opens")
      ->check(CLI::NonNegativeNumber);
  CLI11_PARSE(cli, argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  const std::string& v = app.opt.version;
  if (v.ends_with("-broken")) app.opt.fail_rate = 1.0;
  if (v.ends_with("-unhealthy")) app.healthy = false;
  if (v.ends_with("-slow")) app.opt.extra_latency_ms = 1000;

  if (app.opt.startup_delay > 0) {
    timespec ts{static_cast<time_t>(app.opt.startup_delay),
                static_cast<long>(
                    (app.opt.startup_delay - static_cast<long>(app.opt.startup_delay)) * 1e9)};
    nanosleep(&ts, nullptr);
  }
  app.base = event_base_new();
  evhttp* http = evhttp_new(app.base);
  evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                       EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
  evhttp_set_gencb(http, handle, nullptr);
  evhttp_bound_socket* sock = evhttp_bind_socket_with_handle(http, app.opt.host.c_str(),
                                                             static_cast<uint16_t>(app.opt.port));
  if (!sock) {
    std::fprintf(stderr, "demo-instance: cannot bind %s:%d\n", app.opt.host.c_str(), app.opt.port);
    return 1;
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(evhttp_bound_socket_get_fd(sock), reinterpret_cast<sockaddr*>(&ss), &len);
  int port = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  std::printf("demo-instance %s version %s listening on %s:%d\n", app.opt.instance.c_str(),
              app.opt.version.c_str(), app.opt.host.c_str(), port);
  std::fflush(stdout);
  event* sigs[] = {evsignal_new(app.base, SIGTERM, onSignal, nullptr),
                   evsignal_new(app.base, SIGINT, onSignal, nullptr),
                   evsignal_new(app.base, SIGUSR2, onSignal, nullptr)};
  for (event* e : sigs) event_add(e, nullptr);
  if (v.ends_with("-crash")) {
    timeval three{3, 0};
    event_base_once(
        app.base, -1, EV_TIMEOUT,
        [](evutil_socket_t, short, void*) {
          std::fprintf(stderr, "%s: crashing on purpose (version -crash)\n",
                       g_app->opt.instance.c_str());
          std::_Exit(70);
        },
        nullptr, &three);
  }
  event_base_dispatch(app.base);
  for (event* e : sigs) event_free(e);
  evhttp_free(http);
  event_base_free(app.base);
  return 0;
}
