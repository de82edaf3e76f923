package bridge

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"passerelle/redmine"
)

// Fuzz targets of the bridge's parsers of hostile input (make fuzz runs each
// for FUZZTIME; go test runs their seeds and testdata/fuzz/<name>/ as
// regression cases). None needs the stack.

// FuzzIssueIDFromHook: the Redmine hook's payload parser never panics and
// only ever returns a positive issue id.
func FuzzIssueIDFromHook(f *testing.F) {
	for _, s := range []string{
		`{"payload":{"action":"updated","issue":{"id":42,"subject":"x"},"journal":{"private_notes":true},"url":"http://r/issues/42"}}`,
		`{"issue":{"id":7}}`, `{"data":{"issue":{"id":8}}}`, `{"type":"issue.created","data":{"id":9}}`,
		`{"payload":null}`, `{"issue":{"id":1e400}}`, `[` + strings.Repeat("[", 100), `{"issue":{"id":"12"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		id, err := issueIDFromHook(body)
		if err == nil && id <= 0 {
			t.Fatalf("issue id %d accepted", id)
		}
		if err != nil && id != 0 {
			t.Fatalf("id %d returned with error %v", id, err)
		}
	})
}

// FuzzRedmineHookAuth: the Redmine hook's header check never panics, takes
// only the secret (as token or HMAC signature) and never a prefix of it.
func FuzzRedmineHookAuth(f *testing.F) {
	const secret = "s3cret-0123456789abcdef0123456789"
	f.Add("sha256="+HMACHex(secret, []byte(`{"issue":{"id":1}}`)), "", "", []byte(`{"issue":{"id":1}}`))
	f.Add("", secret, "", []byte(`{}`))
	f.Add("", "", "token="+secret+"&token=x", []byte(`{}`))
	f.Add("sha256=zz", secret, "", []byte(nil))
	f.Fuzz(func(t *testing.T, sigHeader, tokenHeader, query string, body []byte) {
		r := httptest.NewRequest("POST", "/hooks/redmine", nil)
		r.URL.RawQuery = query
		r.Header["X-Redmine-Signature-256"] = []string{sigHeader}
		if sigHeader == "" {
			delete(r.Header, "X-Redmine-Signature-256")
		}
		if tokenHeader != "" {
			r.Header["X-Passerelle-Token"] = []string{tokenHeader}
		}
		ok := redmineHookAuthentic(r, body, secret)
		if !ok {
			return
		}
		token := tokenHeader
		if token == "" {
			token = r.URL.Query().Get("token")
		}
		if sigHeader != "" {
			if sigHeader != "sha256="+HMACHex(secret, body) && !strings.EqualFold(sigHeader, "sha256="+HMACHex(secret, body)) {
				t.Fatalf("signature %q accepted", sigHeader)
			}
		} else if token != secret {
			t.Fatalf("token %q accepted", token)
		}
	})
}

// FuzzPlanChanges: the journal → message converter never panics and never
// passes on what staff did not publish: nothing from a private journal or
// from the sync user's own writes, no file without a public note in the same
// journal, no file the issue does not list; changes in journal order.
func FuzzPlanChanges(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"journals":[{"id":10,"user":{"id":3,"name":"Marie L"},"notes":null,"private_notes":false,"details":[{"property":"attachment","name":"90","new_value":"private.html"}]},{"id":11,"user":{"id":3},"notes":"marge","private_notes":true}],"attachments":[{"id":90,"filename":"private.html"}]}`,
		`{"id":1,"journals":[{"id":4,"user":{"id":3,"name":"Marie"},"notes":"Le devis","details":[{"property":"attachment","name":"90","new_value":"devis.pdf"},{"property":"attr","name":"status_id","old_value":"1","new_value":"4"}]}],"attachments":[{"id":90,"filename":"devis.pdf"}]}`,
		`{"id":1,"journals":[{"id":9,"user":{"id":7},"notes":"client text","details":[{"property":"attr","name":"status_id","new_value":"5"}]},{"id":8,"user":{"id":3},"notes":" \n"}]}`,
		`{"journals":[{"id":2,"user":{"id":3},"details":[{"property":"attachment","name":"-1","new_value":"x"},{"property":"attr","name":"status_id","new_value":"99999999999999999999"}]}]}`,
	} {
		f.Add([]byte(s), 7)
	}
	statuses := map[int]string{1: "New", 2: "In Progress", 4: "Feedback", 5: "Closed"}
	statusName := func(id int) (string, bool) { s, ok := statuses[id]; return s, ok }
	f.Fuzz(func(t *testing.T, issueJSON []byte, syncUser int) {
		var issue redmine.Issue
		if json.Unmarshal(issueJSON, &issue) != nil {
			return
		}
		journals := map[redmine.JournalID]redmine.Journal{}
		for _, j := range issue.Journals {
			journals[j.ID] = j
		}
		listed := map[redmine.AttachmentID]bool{}
		for _, a := range issue.Attachments {
			listed[a.ID] = true
		}
		last := redmine.JournalID(0)
		for i, c := range PlanChanges(testConfig(), issue, syncUser, statusName) {
			j, ok := journals[c.JournalID]
			if !ok {
				t.Fatalf("change of journal %d, which the issue does not have", c.JournalID)
			}
			if i > 0 && c.JournalID < last {
				t.Fatalf("journal %d after %d", c.JournalID, last)
			}
			last = c.JournalID
			if j.PrivateNotes || j.User.ID == syncUser {
				t.Fatalf("journal %d (private %v, user %d) passed on", j.ID, j.PrivateNotes, j.User.ID)
			}
			if strings.TrimSpace(c.Note) == "" && len(c.Attachments) > 0 {
				t.Fatalf("journal %d: %d files passed on without a public note", j.ID, len(c.Attachments))
			}
			for _, a := range c.Attachments {
				if !listed[a.ID] {
					t.Fatalf("journal %d: file %d the issue does not list", j.ID, a.ID)
				}
			}
			if c.Note == "" && c.Status == "" {
				t.Fatalf("journal %d: an empty change", j.ID)
			}
		}
	})
}
