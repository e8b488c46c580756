#!/usr/bin/env bash
# What a newcomer does: `cmake --install` outpost into a fresh prefix, build the C console
# with pkg-config and the C++ console with find_package(outpost CONFIG), out of tree, and
# run both against a real outpost-server (sync, journal and voicemail, a draft saved
# offline that syncs) — the C console over plain HTTP and over TLS (https, a CA made here
# and given through OUTPOST_CA_FILE; without it the system store refuses the server).
#   install_test.sh BUILD_DIR SOURCE_DIR OUTPOST_SERVER_BIN
set -euo pipefail
build=$1
source=$2
server_bin=$3
work=$(mktemp -d /tmp/outpost-install-test.XXXXXX)
server_pid=""
tls_pid=""
cleanup() {
  for pid in $server_pid $tls_pid; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

prefix="$work/prefix"
cmake --install "$build" --prefix "$prefix" > "$work/install.log"
echo "installed into a temporary prefix:"
(cd "$prefix" && find . -type f -o -type l | sort | sed 's/^/  /')
pc_dir=$(dirname "$(find "$prefix" -name outpost.pc | head -n 1)")

# C, with pkg-config only.
PKG_CONFIG_PATH="$pc_dir" cc -std=c99 -Wall -Wextra -Werror -pedantic \
  "$source/examples/c/agent_console.c" \
  $(PKG_CONFIG_PATH="$pc_dir" pkg-config --cflags --libs outpost) \
  -Wl,-rpath,"$(PKG_CONFIG_PATH="$pc_dir" pkg-config --variable=libdir outpost)" \
  -o "$work/agent_console_c"
# C++, with find_package(outpost CONFIG): outpost::outpost (and outpost::c for the C one).
cmake -S "$source/examples" -B "$work/examples" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" > "$work/examples-configure.log"
cmake --build "$work/examples" > "$work/examples-build.log"

"$server_bin" seed --data "$work/server" --tenant acme --user agent-1 --contacts 50 > /dev/null
"$server_bin" serve --data "$work/server" --listen 127.0.0.1:0 > "$work/server.log" 2>&1 &
server_pid=$!
# The same data served over TLS by a second process, with a certificate from a private CA.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=install test CA" -keyout "$work/ca.key" -out "$work/ca.pem" 2> /dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$work/server.key" \
  -out "$work/server.csr" 2> /dev/null
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
  -CAcreateserial -days 2 -copy_extensions copy -out "$work/server.pem" 2> /dev/null
"$server_bin" serve --data "$work/server" --listen 127.0.0.1:0 --tls-cert "$work/server.pem" \
  --tls-key "$work/server.key" > "$work/tls.log" 2>&1 &
tls_pid=$!
address() {
  for _ in $(seq 1 200); do
    grep -q "^outpost-server listening on" "$1" 2>/dev/null && break
    sleep 0.05
  done
  sed -n 's/^outpost-server listening on \([0-9.:]*\).*/\1/p' "$1" | head -n 1
}
url="http://$(address "$work/server.log")"
tls_url="https://localhost:$(address "$work/tls.log" | sed 's/.*://')"
token() {
  "$server_bin" token --data "$work/server" --tenant acme --user agent-1 --device "$1"
}

run_console() {
  local name=$1 binary=$2 server=${3:-$url}
  echo "== $name ($server)"
  "$binary" "$server" "$(token "$name")" "$work/$name.db" | tee "$work/$name.out"
  grep -q "^draft synced" "$work/$name.out"
  grep -q "draft saved offline: 1 pending" "$work/$name.out"
}
run_console c-pkg-config "$work/agent_console_c"
run_console cpp-find-package "$work/examples/agent_console_cpp"
run_console c-find-package "$work/examples/agent_console_c"
# Over TLS: the system store does not know the private CA, so the server is refused and
# nothing is sent; with the CA it syncs.
if "$work/agent_console_c" "$tls_url" "$(token untrusted)" "$work/untrusted.db" \
  > "$work/untrusted.out" 2>&1; then
  echo "an https server with an unknown CA was trusted"; cat "$work/untrusted.out"; exit 1
fi
grep -q "untrusted server" "$work/untrusted.out" || { cat "$work/untrusted.out"; exit 1; }
OUTPOST_CA_FILE="$work/ca.pem" run_console c-pkg-config-tls "$work/agent_console_c" "$tls_url"
OUTPOST_CA_FILE="$work/ca.pem" run_console cpp-find-package-tls \
  "$work/examples/agent_console_cpp" "$tls_url"
echo "install test passed"
