# Sourced by the scripts that need a throwaway `askdocs serve` (the load test,
# schemathesis, the ask benchmark): one way to start it and to stop it.

# start_serve BIN DATA_DIR STDOUT_FILE LOG_FILE
# Starts `askdocs serve` on a free port in the background and waits for its
# first stdout line, which names the address. Sets `server_pid` and `url`;
# returns non-zero (url empty) when the server did not start. Variables set
# on the call (RUST_LOG=warn start_serve ...) reach the server.
start_serve() {
  local bin=$1 data_dir=$2 stdout_file=$3 log_file=$4 line
  "$bin" --data-dir "$data_dir" serve --port 0 > "$stdout_file" 2> "$log_file" &
  server_pid=$!
  url=""
  for _ in $(seq 1 600); do
    line=$(head -n 1 "$stdout_file" 2>/dev/null || true)
    case "$line" in
      "askdocs listening on "*) url="${line#askdocs listening on }"; return 0 ;;
    esac
    kill -0 "$server_pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# stop_serve: stops the server start_serve started, if any (for EXIT traps).
stop_serve() {
  if [ -n "${server_pid:-}" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
}
