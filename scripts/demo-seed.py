#!/usr/bin/env python3
"""Creates the demo clients (Kratos identities with a password) and the owner's
mandate ticket in Redmine, idempotently. Reads .stack/env variables from the
environment. Prints nothing secret beyond the demo passwords it sets."""
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

KRATOS_ADMIN = os.environ["KRATOS_ADMIN_URL"]
REDMINE = os.environ["REDMINE_URL"]
ADMIN_KEY = os.environ["REDMINE_ADMIN_API_KEY"]
CF_MANDATE = os.environ["REDMINE_CF_MANDATE_ID"]
TRACKER_MANDAT = os.environ["REDMINE_TRACKER_MANDAT_ID"]
PROJECT_ID = os.environ["REDMINE_PROJECT_ID"]

CLIENTS = [
    {"email": "locataire@demo.test", "password": "Demo-Locataire-2026", "first": "Camille", "last": "Durand",
     "meta": {"role": "tenant", "lots": ["LOT-A12"], "mandates": []}},
    {"email": "proprietaire@demo.test", "password": "Demo-Proprietaire-2026", "first": "Bernard", "last": "Moreau",
     "meta": {"role": "owner", "lots": ["LOT-A12", "LOT-B03"], "mandates": ["M-2026-001"]}},
]


def call(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def ensure_identity(c):
    q = urllib.parse.urlencode({"credentials_identifier": c["email"]})
    status, found = call("GET", f"{KRATOS_ADMIN}/admin/identities?{q}")
    if status != 200:
        sys.exit(f"demo: listing Kratos identities: HTTP {status} {found}")
    body = {"schema_id": "client", "state": "active",
            "traits": {"email": c["email"], "name": {"first": c["first"], "last": c["last"]}},
            "metadata_public": c["meta"],
            # The agency vouches for the address it was given (the inbound
            # hook identifies a client by e-mail only through a verified one).
            "verifiable_addresses": [{"value": c["email"], "via": "email", "verified": True, "status": "completed"}],
            "credentials": {"password": {"config": {"password": c["password"]}}}}
    if found:
        status, out = call("PUT", f"{KRATOS_ADMIN}/admin/identities/{found[0]['id']}", body)
    else:
        status, out = call("POST", f"{KRATOS_ADMIN}/admin/identities", body)
    if status not in (200, 201):
        sys.exit(f"demo: writing identity {c['email']}: HTTP {status} {out}")


def ensure_mandate_ticket(number):
    h = {"X-Redmine-API-Key": ADMIN_KEY}
    q = urllib.parse.urlencode({"status_id": "*", f"cf_{CF_MANDATE}": number, "tracker_id": TRACKER_MANDAT})
    status, out = call("GET", f"{REDMINE}/issues.json?{q}", headers=h)
    if status != 200:
        sys.exit(f"demo: searching the mandate ticket: HTTP {status} {out}")
    if out["issues"]:
        return out["issues"][0]["id"]
    body = {"issue": {"project_id": int(PROJECT_ID), "tracker_id": int(TRACKER_MANDAT),
                      "subject": f"Mandat de gestion {number} — Bernard Moreau",
                      "custom_fields": [{"id": int(CF_MANDATE), "value": number}]}}
    status, out = call("POST", f"{REDMINE}/issues.json", body, headers=h)
    if status != 201:
        sys.exit(f"demo: creating the mandate ticket: HTTP {status} {out}")
    return out["issue"]["id"]


for c in CLIENTS:
    ensure_identity(c)
ticket = ensure_mandate_ticket("M-2026-001")
print(json.dumps({"mandate_ticket": ticket, "clients": [{k: c[k] for k in ("email", "password")} | {"role": c["meta"]["role"]} for c in CLIENTS]}))
