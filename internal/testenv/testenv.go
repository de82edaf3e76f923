// Package testenv gives integration tests the real services started by
// `make stack`: it reads .stack/env, creates throwaway migrated databases, and
// fails (never skips) when a service is missing and CI=true.
package testenv

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"passerelle/database"
)

var (
	loadOnce sync.Once
	loadErr  error
)

// RepoRoot returns the repository root (the folder holding go.mod).
func RepoRoot() string {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// load reads .stack/env into the process environment, without overriding
// variables already set.
func load() {
	f, err := os.Open(filepath.Join(RepoRoot(), ".stack", "env"))
	if err != nil {
		loadErr = err
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export "))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"'`)
		if _, set := os.LookupEnv(k); !set {
			os.Setenv(k, v)
		}
	}
}

// Env returns the stack variables named, skipping the test when one is
// missing, or failing it when CI=true (a missing service never passes CI).
func Env(t testing.TB, names ...string) []string {
	t.Helper()
	loadOnce.Do(load)
	out := make([]string, len(names))
	for i, n := range names {
		v := os.Getenv(n)
		if v == "" {
			msg := fmt.Sprintf("%s is not set: run `make stack` first (.stack/env: %v)", n, loadErr)
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
		out[i] = v
	}
	return out
}

// Get returns one stack variable (see Env).
func Get(t testing.TB, name string) string { return Env(t, name)[0] }

// NewDatabase creates a database for this test, migrated to the current
// schema, and drops it when the test ends. It returns its URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	url := NewEmptyDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pool, err := database.Open(ctx, url, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := database.Migrate(ctx, pool); err != nil {
		t.Fatalf("migrating test database: %v", err)
	}
	return url
}

// NewEmptyDatabase creates an empty database (no schema) for this test and
// drops it when the test ends. It returns its URL.
func NewEmptyDatabase(t testing.TB) string {
	t.Helper()
	admin := Get(t, "TEST_DATABASE_ADMIN_URL")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connecting to the test database server: %v", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "passerelle_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("creating test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return replaceDBName(admin, name)
}

// NewPool is NewDatabase and an open pool on it, closed at the end of the test.
func NewPool(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	url := NewDatabase(t)
	pool, err := database.Open(context.Background(), url, 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, url
}

// replaceDBName swaps the database of a postgres URL.
func replaceDBName(url, name string) string {
	base, query, _ := strings.Cut(url, "?")
	i := strings.LastIndex(base, "/")
	out := base[:i+1] + name
	if query != "" {
		out += "?" + query
	}
	return out
}
