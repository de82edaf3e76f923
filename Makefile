.PHONY: stack stack-down

# Real PostgreSQL, Redmine, Kratos and SMTP catcher on 127.0.0.1; writes .stack/env. Idempotent.
stack:
	bash scripts/stack.sh

# Stops exactly what `make stack` started.
stack-down:
	bash scripts/stack-down.sh
