// Package espaceclient is the customer space: the PostgreSQL store of client
// requests, messages and attachments, the JSON API of DESIGN.md, and the Kratos
// session check that scopes every read and write to the caller's identity. It
// knows nothing of Redmine: it offers hooks so the bridge can enqueue work in the
// same transaction that stores a client's message (transactional outbox).
package espaceclient
