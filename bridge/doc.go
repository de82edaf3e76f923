// Package bridge is the sync engine between the customer space and Redmine:
// outbox jobs that mirror client requests and messages into Redmine exactly
// once (to_redmine.go), the poller and webhook nudges that bring staff notes and
// status changes back (from_redmine.go), the mapping rules, and the response
// deadlines with their overdue watcher.
package bridge
