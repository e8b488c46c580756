#!/usr/bin/env bash
# The outpost-server Debian package: cpack builds it from the build tree; it is unpacked
# into a scratch root (dpkg -x), its control data checked (name, user creation, conffile,
# systemd unit), and the server started from there with the packaged config file (flags
# override its data directory and ports) until /healthz answers and SIGTERM stops it.
#   package_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
work=$(mktemp -d /tmp/outpost-package-XXXXXX)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "package_test: $*" >&2; exit 1; }

(cd "$work" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/out" >cpack.log 2>&1) ||
  { cat "$work/cpack.log" >&2; fail "cpack failed"; }
deb=$(ls "$work"/out/outpost-server_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || fail "no outpost-server_*.deb in $(ls "$work/out")"
echo "built $(basename "$deb") ($(stat -c %s "$deb") bytes)"

info=$(dpkg-deb -I "$deb")
grep -q '^ Package: outpost-server$' <<<"$info" || fail "package name: $info"
grep -q '^ Depends:.*adduser' <<<"$info" || fail "no adduser dependency: $info"
grep -q '^ Depends:.*libc6' <<<"$info" || fail "no shared-library dependencies: $info"
control="$work/control"
dpkg-deb -e "$deb" "$control"
grep -q 'adduser --system --group' "$control/postinst" || fail "postinst makes no user"
grep -qx '/etc/outpost/server.conf' "$control/conffiles" || fail "server.conf is not a conffile"

root="$work/root"
dpkg -x "$deb" "$root"
for f in usr/bin/outpost-server usr/lib/systemd/system/outpost-server.service \
         etc/outpost/server.conf usr/share/doc/outpost-server/operations.md; do
  [ -e "$root/$f" ] || fail "missing /$f"
done
grep -q '^User=outpost$' "$root/usr/lib/systemd/system/outpost-server.service" || fail "unit user"
grep -q '^ExecStart=/usr/bin/outpost-server serve --config /etc/outpost/server.conf$' \
  "$root/usr/lib/systemd/system/outpost-server.service" || fail "unit ExecStart"
if command -v systemd-analyze >/dev/null 2>&1; then
  systemd-analyze verify "$root/usr/lib/systemd/system/outpost-server.service" 2>&1 |
    grep -v -e 'not executable' -e 'No such file' -e 'Failed to' | grep -i error && fail "unit"
fi

# Start it from the scratch root: the packaged config, with data and ports moved aside.
mkdir -p "$root/var/lib/outpost"
"$root/usr/bin/outpost-server" serve --config "$root/etc/outpost/server.conf" \
  --data "$root/var/lib/outpost" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
  --drain-ms 100 >"$work/stdout" 2>"$work/stderr" &
server_pid=$!
for _ in $(seq 100); do
  grep -q 'admin on' "$work/stdout" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/stderr" >&2; fail "the server exited"; }
  sleep 0.1
done
admin=$(sed -n 's/^outpost-server admin on //p' "$work/stdout")
[ -n "$admin" ] || { cat "$work/stderr" >&2; fail "no admin address"; }
[ "$(curl -fsS "http://$admin/healthz")" = ok ] || fail "/healthz"
curl -fsS "http://$admin/readyz" | grep -q ready || fail "/readyz"
curl -fsS "http://$admin/metrics" | grep -q '^outpost_connections 0$' || fail "/metrics"
grep -q "\"config\":\"$root/etc/outpost/server.conf\"" "$work/stderr" || fail "config not named"
[ -s "$root/var/lib/outpost/token.key" ] || fail "no token key in the data directory"
kill -TERM "$server_pid"
wait "$server_pid" || fail "the server did not stop cleanly"
server_pid=
echo "package_test: ok"
