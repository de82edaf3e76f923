package e2e

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Issue 14: a request's issue is created without searching Redmine first
// when no earlier attempt can have created it (bridge/store_rewind.go). A
// database restored from a backup taken while the request waited for Redmine
// brings it back as never attempted, while Redmine keeps the issue made
// after the backup: the daemon must notice the restore (here pg_restore
// --clean into the same database, on the same server, with no restart: the
// requests table is a new file) and adopt that issue instead of filing a
// second one.
func TestE2ERestoredBackupFilesNoSecondIssue(t *testing.T) {
	t.Parallel()
	d := newDeployment(t)
	up := d.writeConfig("up", nil)
	down := d.writeConfig("down", map[string]string{"redmine.url": "http://127.0.0.1:" + freePort(t)})
	d.migrate(up)
	rm := newStaff(t, d.st)
	tenant := newTenant(t)

	// A first request reaches Redmine: the database's guard holds the live
	// fingerprint from then on, as in any deployment that has run a while.
	srv := d.serve(up)
	warm := tenant.create(srv.in.baseURL, "Interphone muet", "L'interphone ne sonne plus chez moi.")
	tenant.waitIssue(srv.in.baseURL, warm.ID, 90*time.Second)
	srv.terminate()

	// The request under test is filed while Redmine is out of reach; the
	// backup is taken then.
	srv = d.serve(down)
	r := tenant.create(srv.in.baseURL, "Fuite au plafond", "De l'eau coule du plafond de la salle de bains.")
	time.Sleep(2 * time.Second)
	srv.terminate()
	dump := filepath.Join(t.TempDir(), "backup.dump")
	if out, err := exec.Command("pg_dump", "--format=custom", "--file="+dump, "--dbname="+d.dbURL).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}

	// Redmine is back: the issue is created.
	srv = d.serve(up)
	first := tenant.waitIssue(srv.in.baseURL, r.ID, 90*time.Second)
	srv.terminate()

	// The backup is restored over the database; the daemon starts again.
	if out, err := exec.Command("pg_restore", "--clean", "--if-exists", "--no-owner", "--dbname="+d.dbURL, dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	srv = d.serve(up)
	second := tenant.waitIssue(srv.in.baseURL, r.ID, 90*time.Second)
	time.Sleep(3 * pollInterval) // a duplicate created late would show by now
	var ids []int
	for _, is := range rm.issuesOfReference(r.Reference) {
		ids = append(ids, is.ID)
	}
	if second != first || len(ids) != 1 || ids[0] != first {
		t.Errorf("after the restore the request is issue %d (was %d); Redmine issues with %s: %v, want exactly [%d]",
			second, first, r.Reference, ids, first)
	}
}
