#!/usr/bin/env bash
# What a newcomer does: `cmake --install` outpost into a fresh prefix, build the C console
# with pkg-config and the C++ console with find_package(outpost CONFIG), out of tree, and
# run both against a real outpost-server (sync, journal and voicemail, a draft saved
# offline that syncs).   install_test.sh BUILD_DIR SOURCE_DIR OUTPOST_SERVER_BIN
set -euo pipefail
build=$1
source=$2
server_bin=$3
work=$(mktemp -d /tmp/outpost-install-test.XXXXXX)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" || true; fi
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
for _ in $(seq 1 200); do
  grep -q "listening on" "$work/server.log" 2>/dev/null && break
  sleep 0.05
done
url="http://$(sed -n 's/.*listening on \([0-9.:]*\).*/\1/p' "$work/server.log" | head -n 1)"
token() {
  "$server_bin" token --data "$work/server" --tenant acme --user agent-1 --device "$1"
}

run_console() {
  local name=$1 binary=$2
  echo "== $name"
  "$binary" "$url" "$(token "$name")" "$work/$name.db" | tee "$work/$name.out"
  grep -q "^draft synced" "$work/$name.out"
  grep -q "draft saved offline: 1 pending" "$work/$name.out"
}
run_console c-pkg-config "$work/agent_console_c"
run_console cpp-find-package "$work/examples/agent_console_cpp"
run_console c-find-package "$work/examples/agent_console_c"
echo "install test passed"
