"""Starts a fake push service on loopback for the tests:
    fake_push_service.py apns|fcm DIR
It writes its test CA, server certificate and the client credentials the real service
would hand out (an APNs .p8 key, an FCM service-account JSON) into DIR, prints one JSON
line {"ready": true, "port", "control_port", "ca", ...} and serves until killed."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fake_push_common  # noqa: E402


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("apns", "fcm"):
        print(__doc__, file=sys.stderr)
        return 2
    if sys.argv[1] == "apns":
        from fake_apns import FakeApns as Service
    else:
        from fake_fcm import FakeFcm as Service
    os.makedirs(sys.argv[2], exist_ok=True)
    fake_push_common.serve(Service(), sys.argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main())
