package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/sirupsen/logrus"

	"passerelle/config"
)

// newFlags returns a flag set whose --help prints the command's usage.
func newFlags(name, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: passerelle %s [options]\n\n%s\n\nOptions:\n", name, summary)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args; done is true when the command must stop with code.
func parse(fs *flag.FlagSet, args []string) (code int, done bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, true
		}
		return 2, true
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "passerelle %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return 2, true
	}
	return 0, false
}

// cmdFlags is a subcommand's flag set, --config declared.
type cmdFlags struct {
	*flag.FlagSet
	configPath *string
}

// newCommand returns the flag set of a command that reads the
// configuration: --help prints its usage, --config names the file.
func newCommand(name, summary string) cmdFlags {
	fs := newFlags(name, summary)
	return cmdFlags{FlagSet: fs, configPath: configFlag(fs)}
}

// load parses args (flags only) and loads the configuration. done is true
// when the command must stop with code: 0 after --help, 2 for a usage error,
// 1 for a configuration with problems (each printed with its file:line).
func (c cmdFlags) load(args []string) (cfg *config.Config, code int, done bool) {
	if code, done := parse(c.FlagSet, args); done {
		return nil, code, true
	}
	cfg, ok := c.config()
	if !ok {
		return nil, 1, true
	}
	return cfg, 0, false
}

// config loads the configuration --config names, printing every problem.
func (c cmdFlags) config() (*config.Config, bool) { return loadConfig(*c.configPath) }

// configFlag declares --config, defaulting to $PASSERELLE_CONFIG.
func configFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("PASSERELLE_CONFIG")
	if def == "" {
		def = "/etc/passerelle/passerelle.yaml"
	}
	return fs.String("config", def, "configuration file (env PASSERELLE_CONFIG)")
}

// loadConfig loads the config or prints every problem with its line.
func loadConfig(path string) (*config.Config, bool) {
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return nil, false
	}
	return cfg, true
}

// newLogger returns the JSON logger at the configured level.
func newLogger(level string) *logrus.Logger {
	log := logrus.New()
	log.SetOutput(os.Stderr)
	log.SetFormatter(&logrus.JSONFormatter{TimestampFormat: "2006-01-02T15:04:05.000Z07:00"})
	if lv, err := logrus.ParseLevel(level); err == nil {
		log.SetLevel(lv)
	}
	return log
}
