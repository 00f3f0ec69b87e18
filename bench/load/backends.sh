# Sourced by run.sh and ab.sh: the backends every proxy is measured in front of. One nginx,
# three ports (9201-9203), a 14-byte body, keep-alive without limit.
#   start_backends DIR   # writes DIR/nginx.conf, starts nginx, appends its pid to pids
start_backends() {
  local dir=$1
  mkdir -p "$dir"
  cat >"$dir/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 8000; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:9201; listen 127.0.0.1:9202; listen 127.0.0.1:9203;
    location / { return 200 "hello, world!\n"; }
  }
}
CONF
  nginx -p "$dir" -c "$dir/nginx.conf" &
  pids+=($!)
}
