#!/usr/bin/python3
"""The fleet console in a real headless browser (Debian's chromium, driven through its
DevTools protocol with python3-websocket), against a real outpost-server while devices
(the outpost CLI) sync: the page shows the devices with their app versions, which one is
streaming, a device's lag while it is behind and not after it caught up, a rejected
mutation with its reason, and the scopes' log heads, all through live updates (the page is
never reloaded).

usage: console_browser_test.py SERVER_BIN DEVICE_BIN [--screenshot PNG]
Exit 0 when every check holds; prints each check."""

import argparse
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket  # python3-websocket

TIMEOUT = 20  # seconds for any one thing to show on the page


class Browser:
    """Headless chromium with one page, evaluated through the DevTools protocol."""

    def __init__(self, url, profile):
        binary = shutil.which("chromium") or "/usr/bin/chromium"
        self.process = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--no-first-run", "--remote-debugging-port=0",
             "--remote-allow-origins=*", "--window-size=1400,1000",
             "--user-data-dir=" + profile, url],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = os.path.join(profile, "DevToolsActivePort")
        deadline = time.time() + 30
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            if time.time() > deadline or self.process.poll() is not None:
                raise RuntimeError("chromium did not start")
            time.sleep(0.1)
        port = open(port_file).read().split()[0]
        pages = []
        while not pages:
            targets = json.load(urllib.request.urlopen("http://127.0.0.1:%s/json/list" % port))
            pages = [t for t in targets if t["type"] == "page"]
            if time.time() > deadline:
                raise RuntimeError("no page target")
            time.sleep(0.1)
        self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=30)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError("%s: %s" % (method, message["error"]))
                return message["result"]

    def eval(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def wait_for(self, what, expression, timeout=TIMEOUT):
        deadline = time.time() + timeout
        value = None
        while time.time() < deadline:
            value = self.eval(expression)
            if value:
                print("ok:", what)
                return value
            time.sleep(0.2)
        raise AssertionError("%s: not shown within %d s (last: %r)\n--- page text:\n%s" % (
            what, timeout, value, self.eval("document.body.innerText")))

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as out:
            out.write(base64.b64decode(data))

    def close(self):
        self.ws.close()
        self.process.terminate()
        self.process.wait(timeout=20)


def row_js(device, field):
    """The data attribute `field` of the device row of acme/agent-1/DEVICE, or null."""
    return ("(() => { const r = document.querySelector('#devices tr[data-device=\"acme/agent-1/%s\"]');"
            " return r ? r.dataset.%s : null; })()" % (device, field))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("server")
    parser.add_argument("device")
    parser.add_argument("--screenshot")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="outpost-console-")
    processes = []
    browser = None
    try:
        data = os.path.join(work, "server")
        subprocess.run([args.server, "seed", "--data", data, "--contacts", "50"], check=True,
                       stdout=subprocess.DEVNULL)
        admin_token = "console-test-admin-token-0123456789"
        log = open(os.path.join(work, "server.log"), "w")
        env = dict(os.environ, OUTPOST_ADMIN_TOKEN=admin_token)
        server = subprocess.Popen([args.server, "serve", "--data", data, "--listen",
                                   "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"],
                                  stdout=subprocess.PIPE, stderr=log, text=True, env=env)
        processes.append(server)
        listen = server.stdout.readline().split()[-1]
        admin = server.stdout.readline().split()[-1]
        url = "http://" + listen

        tokens = {}

        def token(device):
            if device not in tokens:
                tokens[device] = subprocess.run(
                    [args.server, "token", "--data", data, "--tenant", "acme", "--user",
                     "agent-1", "--device", device], check=True, capture_output=True,
                    text=True).stdout.strip()
            return tokens[device]

        def device(name, *command, check=True):
            return subprocess.run([args.device, "--db", os.path.join(work, name + ".db")] +
                                  list(command), check=check, capture_output=True, text=True)

        def sync(name, version=None):
            extra = ["--app-version", version] if version else []
            return device(name, "--server", url, "--token", token(name), "sync", "--budget",
                          "20", *extra, check=False)

        browser = Browser("http://%s/?token=%s" % (admin, admin_token),
                          os.path.join(work, "profile"))
        browser.wait_for("the page follows live updates",
                         "document.getElementById('status').textContent === 'live'")
        browser.wait_for("an empty fleet", "document.getElementById('summary-devices')"
                         " && document.getElementById('summary-devices').textContent === 'devices: 0'")

        assert sync("phone", "field-app/3.1").returncode == 0
        assert sync("tablet", "field-app/3.0").returncode == 0
        browser.wait_for("the phone appears with its app version",
                         "[...document.querySelectorAll('#devices tr')].some(r => "
                         "r.dataset.device === 'acme/agent-1/phone' && "
                         "r.textContent.includes('field-app/3.1'))")
        browser.wait_for("the tenant row", "document.querySelector('#tenants tr[data-tenant=\"acme\"]')"
                         " && document.querySelector('#tenants tr[data-tenant=\"acme\"]').cells[1].textContent === '2'")
        browser.wait_for("the user scope's log head",
                         "(() => { const r = document.querySelector('#scopes tr[data-scope=\"user/acme/agent-1\"]');"
                         " return r && +r.cells[1].textContent > 0; })()")

        # The tablet streams: live. The phone stays offline while the tablet writes: behind.
        watch = subprocess.Popen([args.device, "--db", os.path.join(work, "tablet.db"),
                                  "--server", url, "--token", token("tablet"),
                                  "--app-version", "field-app/3.0", "watch"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(watch)
        browser.wait_for("the streaming tablet is live", row_js("tablet", "live") + " === 'true'")
        device("tablet", "mutate", "set_user_setting", '{"name": "console", "value": "1"}')
        browser.wait_for("the offline phone is behind", "+" + row_js("phone", "lag") + " > 0")
        if args.screenshot:
            time.sleep(1.5)  # one more live update: the lag in seconds has grown
            browser.screenshot(args.screenshot)
            print("screenshot:", args.screenshot)
        assert sync("phone", "field-app/3.1").returncode == 0
        browser.wait_for("the phone caught up", row_js("phone", "lag") + " === '0'")

        watch.send_signal(signal.SIGTERM)
        watch.wait(timeout=20)
        browser.wait_for("the tablet is offline", row_js("tablet", "live") + " === 'false'")

        # A rejection: the tablet deletes a draft the phone edited meanwhile.
        device("phone", "mutate", "save_draft", '{"draft": {"id": "d-console", "body": "one"}}')
        assert sync("phone").returncode == 0
        assert sync("tablet").returncode == 0
        device("phone", "mutate", "save_draft",
               '{"draft": {"id": "d-console", "body": "one two"}}')
        assert sync("phone").returncode == 0
        device("tablet", "mutate", "delete_draft", '{"id": "d-console"}')
        sync("tablet")
        browser.wait_for("the rejection with its reason",
                         "document.getElementById('rejections').textContent"
                         ".includes('edited elsewhere after you deleted it')")
        first_paint = browser.eval("+document.body.dataset.firstPaintMs")
        print("first paint: %s ms" % first_paint)
        # Without the admin token the API refuses (the page's token is what let it in).
        try:
            urllib.request.urlopen("http://%s/api/devices" % admin)
            raise AssertionError("/api/devices answered without the admin token")
        except urllib.error.HTTPError as refused:
            assert refused.code == 401, refused.code
            print("ok: the API needs the admin token")
        return 0
    finally:
        if browser:
            browser.close()
        for process in reversed(processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
