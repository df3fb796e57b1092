# Sourced by the bench scripts that run one real `edgefleet server`:
#   source bench/bench_server.sh
#   bench_server_start BIN DATA_DIR MODELS_DIR TMP THREADS [extra server arguments...]
# sets up DATA_DIR (signing keys, admin token, device fan-0001, the cloud
# model, the edge model published; trains into MODELS_DIR first when it holds
# no edge.efm), starts the server on a free loopback port and waits until it
# answers. Sets: pid, port, token (fan-0001's), artifact (the published
# file). bench_server_stop stops it by its pid (call it from an EXIT trap).

bench_server_start() {
  local bin="$1" data="$2" models="$3" tmp="$4" threads="$5"
  shift 5
  mkdir -p "$data"
  if [[ ! -f "$models/edge.efm" ]]; then
    "$bin" train --out "$models" > "$tmp/train.log" 2>&1 || { cat "$tmp/train.log" >&2; return 1; }
  fi
  "$bin" keys generate --data-dir "$data" > /dev/null
  "$bin" admin token --data-dir "$data" > /dev/null 2>&1
  token="$("$bin" device add fan-0001 --data-dir "$data" 2>/dev/null | tail -n 1)"
  cp "$models/cloud.efcm" "$data/cloud.efcm"
  "$bin" model publish "$models/edge.efm" --data-dir "$data" > /dev/null
  artifact="$(ls "$data"/models/model-v1-*.efm)"
  "$bin" server --data-dir "$data" --bind 127.0.0.1 --port 0 --port-file "$tmp/port" --threads "$threads" "$@" \
    > "$tmp/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 200); do [[ -s "$tmp/port" ]] && break; sleep 0.1; done
  port="$(cat "$tmp/port")"
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/model/version" > /dev/null 2>&1 && break
    sleep 0.1
  done
}

bench_server_stop() {
  if [[ -n "${pid:-}" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
}
