// Package deadlines is the response-deadline product (issue 5): it computes
// each request's deadlines from its history (package sla does the
// arithmetic), stores them, writes the "Échéance réponse" custom field on the
// request's Redmine issue, and warns and escalates as deadlines near and
// pass. It also aggregates the yearly SLA report.
//
// Files:
//   - compute.go: the rules of one configuration and the computation;
//   - refresh.go: computing and storing a request's deadlines (when the
//     request is filed, mirrored, followed up, refreshed from Redmine);
//   - duefield.go: the "Échéance réponse" custom field;
//   - service.go: the Service the bridge wires (its River workers, periodic
//     job and the runtime built from each configuration);
//   - watcher.go: the periodic watcher and its Config;
//   - alerts.go: alert kinds and states, what to claim and when;
//   - alert_job.go: the job that carries out one claimed alert;
//   - mail.go: the alert e-mail (recipients, rendering, sending);
//   - escalation.go: the private escalation note on the issue;
//   - check.go: what `passerelle check --live` verifies for deadlines;
//   - report.go: the SLA report's aggregation;
//   - store.go: every SQL statement of the package (tables
//     request_deadlines and deadline_alerts, and the reads of requests and
//     messages the watcher needs).
//
// What is stored:
//   - requests.due_at: the next running first-answer due time, which clients
//     see ("Réponse attendue avant le mardi 24 novembre à 18 h") and which is
//     indexed;
//   - request_deadlines: when the next warning or escalation falls due, and
//     the "Échéance réponse" value wanted on the Redmine issue and the one
//     last written there;
//   - deadline_alerts: one row per warning or escalation claimed.
//
// When it is computed: in the transaction that stores a new request (the
// outbox), after the request's issue is created, after a client follow-up is
// mirrored, after a refresh from Redmine; and, as a safety net, by the
// watcher for every request whose history changed since its last computation
// (requests.updated_at moved, or the thread has another number of messages)
// or whose rules changed (a configuration reload). The computation locks the
// request row, reads the history and stores the result in one transaction,
// so the stored values always follow from one consistent history.
//
// This package never imports the bridge: the bridge owns the River client
// and hands the Service what it needs (a JobInserter, the Redmine directory)
// through small interfaces and functions declared here.
package deadlines
