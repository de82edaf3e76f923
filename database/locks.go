package database

// Advisory-lock namespaces: the first key of every PostgreSQL advisory lock
// Passerelle takes (the second is hashtext of the locked thing's id). They
// are listed here, in one place, so two features never share a namespace by
// accident; strandedRequests (bridge/store.go) also looks LockRequest up in
// pg_locks.
const (
	// LockRequest is a request's session lock: one worker mirrors a request
	// at a time (bridge/store.go, withRequestLock).
	LockRequest = 7411
	// LockDeadlineAlert is a deadline alert's session lock: one worker
	// carries an alert out at a time (deadlines, withAlertLock).
	LockDeadlineAlert = 7412
	// LockDueField is a request's transaction lock ordering the writers of
	// its "Échéance réponse" custom field (deadlines, syncDueField).
	LockDueField = 7413
)
