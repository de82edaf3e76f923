// Command passerelle is the one binary of Passerelle: the sync daemon
// between the agency's customer space and its Redmine, and its admin tools.
package main

import (
	"fmt"
	"os"
)

func main() { os.Exit(run(os.Args[1:])) }

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(args []string) int
}

func commands() []command {
	return []command{
		{"serve", "run the customer-space API, the hooks and the sync workers", cmdServe},
		{"migrate", "apply the database migrations (Passerelle's and River's)", cmdMigrate},
		{"check", "validate a configuration file (--live: also against Redmine)", cmdCheck},
		{"version", "print the version", cmdVersion},
		{"explain", "explain how a request's response deadlines were computed", cmdExplain},
		{"report", "reports: sla (share answered in time, median answer time)", cmdReport},
		{"resync", "queue again what is not in Redmine yet (after fixing a permanent error)", cmdResync},
		{"identities", "clients' identities: invite, reinvite, import, list, deactivate (now or at a date), activate", cmdIdentities},
		{"notifications", "mails to clients: failed (the ones given up)", cmdNotifications},
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "Usage: passerelle COMMAND [options]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(os.Stderr, "\nRun `passerelle COMMAND --help` for a command's options.")
}

func run(args []string) int {
	if len(args) == 0 {
		usage()
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage()
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:])
		}
	}
	fmt.Fprintf(os.Stderr, "passerelle: unknown command %q\n\n", args[0])
	usage()
	return 2
}
