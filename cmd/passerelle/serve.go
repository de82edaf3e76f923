package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"passerelle/app"
	"passerelle/config"
)

func cmdServe(args []string) int {
	fs := newCommand("serve", "Run the customer-space API, the Redmine and inbound hooks, and the sync workers.\nStops cleanly on SIGTERM or SIGINT; SIGHUP reloads the configuration.")
	cfg, code, done := fs.load(args)
	if done {
		return code
	}
	log := newLogger(cfg.LogLevel)
	if err := serve(cfg, log); err != nil {
		log.WithError(err).Error("passerelle stopped")
		return 1
	}
	return 0
}

func serve(cfg *config.Config, log *logrus.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	a, err := app.New(startCtx, app.Options{Config: cfg, Log: log})
	if err != nil {
		return err
	}
	defer a.Close()

	srv := &http.Server{
		Addr:              cfg.Listen,
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
	}
	// /metrics (and the admin pages to come) live on their own listener,
	// loopback by default: the customer-facing one answers 404 there.
	var admin *http.Server
	if cfg.AdminListen != config.AdminListenNone {
		admin = &http.Server{
			Addr:              cfg.AdminListen,
			Handler:           a.AdminHandler(),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
		}
	}
	// Bind both listeners before serving, so a taken port stops the start
	// with a clear error instead of a half-running daemon.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	var adminLn net.Listener
	if admin != nil {
		if adminLn, err = net.Listen("tcp", cfg.AdminListen); err != nil {
			ln.Close()
			return fmt.Errorf("admin_listen %s: %w", cfg.AdminListen, err)
		}
	}
	if err := a.Start(ctx); err != nil {
		ln.Close()
		if adminLn != nil {
			adminLn.Close()
		}
		return err
	}
	errc := make(chan error, 2)
	go func() {
		log.WithFields(logrus.Fields{"listen": cfg.Listen, "admin_listen": cfg.AdminListen, "public_url": cfg.PublicURL, "redmine_url": cfg.Redmine.URL}).Info("passerelle serving")
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	if admin != nil {
		go func() {
			if err := admin.Serve(adminLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("admin listener: %w", err)
			}
		}()
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var serveErr error
	for {
		select {
		case <-hup:
			next, err := config.Load(cfg.File)
			if err == nil {
				err = a.Reload(next)
			}
			if err != nil {
				log.WithError(err).Error("configuration not reloaded: keeping the current one")
				continue
			}
			log.WithField("categories", len(next.Categories)).Info("configuration reloaded")
			continue
		case serveErr = <-errc:
		case <-ctx.Done():
		}
		break
	}
	log.Info("shutting down")
	shutCtx, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	_ = srv.Shutdown(shutCtx)
	if admin != nil {
		_ = admin.Shutdown(shutCtx)
	}
	if err := a.Stop(shutCtx); err != nil {
		log.WithError(err).Warn("workers did not stop cleanly")
	}
	if serveErr != nil {
		return serveErr
	}
	log.Info("stopped")
	return nil
}
