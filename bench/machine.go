package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/jackc/pgx/v5"
)

// machine describes where the figures were measured.
type machine struct {
	cpus                                 int
	cpuModel, ram                        string
	goVersion, redmine, postgres, kratos string
}

// describeMachine reads the CPU count and model, the RAM and the versions of
// Go, Redmine (its Debian package), PostgreSQL and Kratos.
func describeMachine(ctx context.Context, st *stack) (machine, error) {
	m := machine{cpus: runtime.NumCPU(), goVersion: runtime.Version()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "model name") {
				_, m.cpuModel, _ = strings.Cut(l, ":")
				m.cpuModel = strings.TrimSpace(m.cpuModel)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "MemTotal:") {
				var kb int
				fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, "MemTotal:")), "%d", &kb)
				m.ram = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	m.redmine = "unknown"
	if out, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f", "${Version}", "redmine").Output(); err == nil {
		m.redmine = "Debian package redmine " + string(out) + " (WEBrick, SQLite)"
	}
	conn, err := pgx.Connect(ctx, st.adminDBURL)
	if err != nil {
		return m, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&m.postgres); err != nil {
		return m, fmt.Errorf("reading PostgreSQL's version: %w", err)
	}
	var v struct {
		Version string `json:"version"`
	}
	m.kratos = "unknown"
	if status, _, err := doJSON(ctx, plainHTTP, http.MethodGet, st.kratosAdmin+"/version", nil, nil, &v); err == nil && status == 200 {
		m.kratos = v.Version
	}
	// The stack builds Kratos from its Go module (tools/kratos/go.mod),
	// whose binary reports no release in /version.
	if data, err := os.ReadFile(filepath.Join(st.root, "tools", "kratos", "go.mod")); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(l), "require ")); len(f) == 2 && f[0] == "github.com/ory/kratos" {
				m.kratos = f[1] + " (tools/kratos/go.mod; /version answers " + m.kratos + ")"
			}
		}
	}
	return m, nil
}
