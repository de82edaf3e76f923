.PHONY: stack stack-down

# Real PostgreSQL, Redmine, Kratos and SMTP catcher on 127.0.0.1; writes .stack/env. Idempotent.
stack:
	bash scripts/stack.sh

# Stops exactly what `make stack` started.
stack-down:
	bash scripts/stack-down.sh

export PATH := /usr/local/go/bin:$(PATH)
GO ?= go

.PHONY: build test unit check demo bench

# The binary.
build:
	$(GO) build -o bin/passerelle ./cmd/passerelle

# The README's test command: the real stack, every package test with the race detector, each fuzz
# target for TEST_FUZZTIME executions, then the end-to-end suite alone (it drives the running binary and may stop and start the stack's services).
test: stack
	$(GO) vet ./...
	CI=$(CI) $(GO) test -race -count=1 -timeout 40m $$($(GO) list ./... | grep -v '/e2e$$')
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(TEST_FUZZTIME)
	CI=$(CI) $(GO) test -v -count=1 -timeout 25m ./e2e

# How much `make test` fuzzes each target: a count of executions, not a duration. Go 1.26's fuzz
# coordinator races its own -fuzztime deadline (golang/go#75804, fixed in Go 1.27): a duration budget
# can end in a bare "context deadline exceeded" FAIL with no failing input (CI stop 17, FuzzParseInbound
# at 6.02 s of 5 s). A count has no deadline to race; 20000x is 3–7 s per target on this machine.
TEST_FUZZTIME ?= 20000x

# The end-to-end promises on the running binary (PASSERELLE_BIN=path tests another build).
test-e2e: stack
	CI=$(CI) $(GO) test -v -count=1 -timeout 25m ./e2e

# Tests that need no service (they skip, or fail under CI=true, without the stack).
unit:
	$(GO) test -count=1 ./config ./redmine ./deadlines/sla ./identities

# Formatting and vet.
check:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

# The real thing, with demo clients; prints the logins.
demo:
	bash scripts/demo.sh

# Benchmarks of the running binary against the real stack (it must be up: `make stack`):
# builds ./cmd/passerelle, starts `passerelle serve` on throwaway databases behind a
# counting proxy to Redmine, measures each figure with its raw Redmine counterpart in the
# same run and writes docs/BENCHMARKS.md and docs/benchmarks/*.png. The flags' defaults,
# passed explicitly: BENCH_N requests in the full burst (500); BENCH_WEBHOOK_NOTES staff
# notes of section 4 with the webhook plugin, on a second deployment at WEBHOOK_E2E_PORT
# (20, 0 skips it); BENCH_STEADY section 8's steady load at half the throughput (10m, 0
# skips it); BENCH_LOAD_N requests per load level of section 9, each side (256, 0 skips
# them). A quick run: BENCH_N=60 BENCH_STEADY=1m BENCH_LOAD_N=40 make bench (or go run
# ./bench with -out /tmp/...: bench/main.go). The package benchmarks (one request at a
# time through internals) stay runnable with `go test -run '^$$' -bench . ./bridge`.
BENCH_N ?= 500
BENCH_WEBHOOK_NOTES ?= 20
BENCH_STEADY ?= 10m
BENCH_LOAD_N ?= 256
bench: stack
	$(GO) run ./bench -n $(BENCH_N) -webhook-notes $(BENCH_WEBHOOK_NOTES) -steady $(BENCH_STEADY) \
		-load-n $(BENCH_LOAD_N) -out docs

# Fuzz targets (no service needed), each run for FUZZTIME; what they find lands in the package's
# testdata/fuzz/<Target>/ and then runs as a regression case with every `go test`.
FUZZTIME ?= 20s
FUZZ_TARGETS := \
	./bridge:FuzzIssueIDFromHook ./espaceclient:FuzzParseInbound ./espaceclient:FuzzStandardWebhookHeaders \
	./bridge:FuzzRedmineHookAuth ./bridge:FuzzPlanChanges ./config:FuzzParse \
	./espaceclient:FuzzSniffContentType ./espaceclient:FuzzSanitizeFilename

.PHONY: fuzz
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done
