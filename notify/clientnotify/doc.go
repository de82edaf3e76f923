// Package clientnotify tells clients, by e-mail and through the outbound webhooks, what happens to their requests:
// received (at once, always, with the dossier reference), transmitted to the
// agency (the Redmine number), a staff answer (the public note's text and the
// names of its public files), a status change, a closure. Never a private
// note (those never become messages), never another client's data (each
// mail goes to the request's author, about that request only).
//
// # Exactly once
//
// Every client-visible event is a row of messages. The sweep (a periodic
// job, one run at a time across replicas by the session lock
// database.LockNotify) takes the messages nobody looked at yet
// (notified_at IS NULL, FOR UPDATE SKIP LOCKED), and in ONE transaction:
// inserts one client_notifications row per event and recipient (UNIQUE
// (message_id, identity_id)), enqueues its mail job (River InsertTx), and
// sets notified_at. A crash before the commit leaves nothing; after it, the
// row and its job exist together.
//
// The mail job locks its row (FOR UPDATE SKIP LOCKED; another worker on it
// makes the job snooze), sends, and records "sent" in that transaction. The
// one window for a duplicate — the process dying between the SMTP server's
// acceptance and the commit — gives a second mail with the same Message-ID,
// which mail clients recognize as the same message. A temporary failure (the
// server unreachable, a 4xx) is retried with the bridge's backoff; a refusal
// for good (5xx on the recipient) or the last attempt marks the row failed,
// listed by `passerelle notifications failed`; never retried forever.
//
// Clients in digest mode (preferences: "une fois par jour") get their
// events' rows in one mail a day (DigestArgs); the acknowledgment of a new
// request stays immediate.
package clientnotify
