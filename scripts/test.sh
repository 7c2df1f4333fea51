#!/usr/bin/env bash
# The whole test suite: vet, then every package's tests against SQLite and
# the PostgreSQL server named by TEST_DATABASE_URL (default: the local
# server's "test" database). Packages that run concurrent code run with -race.
set -euo pipefail
cd "$(dirname "$0")/.."

unformatted=$(gofmt -l ./cmd ./internal ./api)
if [ -n "$unformatted" ]; then
  echo "gofmt needed on:"; echo "$unformatted"; exit 1
fi
go vet ./...
# staticcheck at a pinned version (built once into the module cache).
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# Concurrent packages: the queue, the event store, the listeners, the HTTP
# server, the end-to-end command tests, SQLite's group committer and the
# idempotency keys' claims.
race_pkgs=(./internal/queue/... ./internal/eventstore/... ./internal/notify/... ./internal/document/... ./internal/keyring/... ./internal/cli/...
  ./internal/database/... ./internal/idempotency/...)
go test -race -count=1 -timeout 15m "${race_pkgs[@]}"

mapfile -t rest < <(go list ./... | grep -v -e /internal/queue -e /internal/eventstore -e /internal/notify -e /internal/document -e /internal/keyring -e /internal/cli \
  -e /internal/database -e /internal/idempotency)
go test -count=1 -timeout 15m "${rest[@]}"
# The fault hooks (build tag faults) that internal/reliability compiles into
# its binary: vetted and tested here, since no other build includes them.
go vet -tags faults ./internal/listener/
go test -tags faults -count=1 -run '^TestFaults$' ./internal/listener/

# A short fuzzing pass over every decoder of outside input (the seed corpora
# already ran above as ordinary tests). FUZZTIME=0 skips it. The budget is a
# count of executions, not a duration: Go 1.26's fuzz coordinator can report a
# spurious "context deadline exceeded" when a duration budget ends while a
# worker is busy (go.dev/issue/75804, fixed in Go 1.27); a count has no
# deadline to race.
FUZZTIME="${FUZZTIME:-5000x}"
if [ "$FUZZTIME" != "0" ]; then
  grep -rl --include='*_test.go' '^func Fuzz' internal | sort -u | while read -r file; do
    pkg="./$(dirname "$file")"
    for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //'); do
      echo "fuzz $pkg $target ($FUZZTIME)"
      go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" -timeout 5m "$pkg" > /tmp/insure-fuzz.log 2>&1 || { cat /tmp/insure-fuzz.log; exit 1; }
    done
  done
fi
