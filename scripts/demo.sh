#!/usr/bin/env bash
# make demo — the real thing on this machine: PostgreSQL, Redmine, Kratos, an
# SMTP catcher and Passerelle, with demo clients whose logins it prints.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/stack.sh
# shellcheck disable=SC1091
source .stack/env

echo "demo: building passerelle"
go build -o bin/passerelle ./cmd/passerelle
bin/passerelle check --config "$PASSERELLE_CONFIG" >/dev/null
bin/passerelle migrate --config "$PASSERELLE_CONFIG"
seed=$(/usr/bin/python3 scripts/demo-seed.py)
ticket=$(printf '%s' "$seed" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["mandate_ticket"])')

cat <<TXT

==================================================================
 Passerelle — démo
------------------------------------------------------------------
 Espace client     : http://127.0.0.1:8080/   (pages ; sur un téléphone ou un navigateur)
 API espace client : http://127.0.0.1:8080/api/v1/   (santé : /healthz)
 Redmine (équipe)  : $REDMINE_URL
     gestionnaire / $REDMINE_DEMO_PASSWORD   (groupe Gestionnaires)
     comptable    / $REDMINE_DEMO_PASSWORD   (groupe Comptabilité)
     admin        / admin
 Clients (Kratos, $KRATOS_PUBLIC_URL) :
     locataire@demo.test    / Demo-Locataire-2026     (lot LOT-A12)
     proprietaire@demo.test / Demo-Proprietaire-2026  (lots LOT-A12, LOT-B03 ; mandat M-2026-001, ticket Redmine n° $ticket)
 E-mails captés    : $MAILDIR/new/

 Mot de passe oublié : http://127.0.0.1:8080/recuperation (le code arrive dans les e-mails captés)

 Se connecter et déposer une demande (API) :
   flow=\$(curl -s $KRATOS_PUBLIC_URL/self-service/login/api | python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])')
   token=\$(curl -s -X POST -H 'Content-Type: application/json' "$KRATOS_PUBLIC_URL/self-service/login?flow=\$flow" \\
       -d '{"method":"password","identifier":"locataire@demo.test","password":"Demo-Locataire-2026"}' \\
       | python3 -c 'import json,sys;print(json.load(sys.stdin)["session_token"])')
   curl -s -H "X-Session-Token: \$token" http://127.0.0.1:8080/api/v1/me
   curl -s -H "X-Session-Token: \$token" -F category=travaux -F subject='Fuite' -F body='Sous l évier' \\
       -F lot=LOT-A12 -F location='Cuisine' -F payer=owner -F urgency=urgent http://127.0.0.1:8080/api/v1/requests
==================================================================

TXT
exec bin/passerelle serve --config "$PASSERELLE_CONFIG"
