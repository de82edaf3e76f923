package espaceclient

import (
	"net/http"
	"strings"
	"testing"
)

// Another method on a known path answers 405 with Allow and a JSON error
// (issue 10, "found by reading": it answered 404); an unknown path stays 404;
// nothing is stored.
func TestWrongMethodAnswers405(t *testing.T) {
	e := newEnv(t)
	tenant := e.newClient("tenant", []string{"A12"}, nil)
	const someID = "7c1c1a52-58d6-4b8e-9d2b-7f1d3a1e9b01"
	cases := []struct {
		name, method, path string
		status             int
		code, allow        string
	}{
		{"DELETE a request", http.MethodDelete, "/api/v1/requests/" + someID, 405, "method_not_allowed", "GET"},
		{"PUT the list", http.MethodPut, "/api/v1/requests", 405, "method_not_allowed", "POST, GET"},
		{"POST me", http.MethodPost, "/api/v1/me", 405, "method_not_allowed", "GET"},
		{"GET close", http.MethodGet, "/api/v1/requests/" + someID + "/close", 405, "method_not_allowed", "POST"},
		{"PATCH an attachment", http.MethodPatch, "/api/v1/requests/" + someID + "/attachments/x", 405, "method_not_allowed", "GET"},
		{"unknown path", http.MethodGet, "/api/v1/nothing", 404, "not_found", ""},
		{"unknown path, other method", http.MethodDelete, "/api/v1/requests/" + someID + "/nothing", 404, "not_found", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := tenant.do(tc.method, tc.path, nil, "")
			if res.status != tc.status || res.errCode(t) != tc.code || res.header.Get("Allow") != tc.allow {
				t.Fatalf("%s %s: %d %s (Allow %q), want %d %s (Allow %q)", tc.method, tc.path, res.status, res.body,
					res.header.Get("Allow"), tc.status, tc.code, tc.allow)
			}
		})
	}
	e.expectRows(0, 0, 0)
}

// A field sent twice is refused (400 duplicate_field naming it) in JSON and
// in multipart alike; before, JSON kept the last value and multipart the
// first. Nothing is stored.
func TestDuplicateFieldRefused(t *testing.T) {
	e := newEnv(t)
	tenant := e.newClient("tenant", []string{"A12"}, nil)
	multipartBody := "--XB\r\nContent-Disposition: form-data; name=\"category\"\r\n\r\nautre\r\n" +
		"--XB\r\nContent-Disposition: form-data; name=\"subject\"\r\n\r\nVolet\r\n" +
		"--XB\r\nContent-Disposition: form-data; name=\"body\"\r\n\r\npremier\r\n" +
		"--XB\r\nContent-Disposition: form-data; name=\"body\"\r\n\r\nsecond\r\n--XB--\r\n"
	cases := []struct {
		name, contentType, body string
	}{
		{"JSON", "application/json", `{"category":"autre","subject":"Volet","body":"premier","body":"second"}`},
		{"multipart", "multipart/form-data; boundary=XB", multipartBody},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := tenant.do(http.MethodPost, "/api/v1/requests", strings.NewReader(tc.body), tc.contentType)
			if res.status != http.StatusBadRequest || res.errCode(t) != "duplicate_field" || str(t, res.json(t), "error.field") != "body" {
				t.Fatalf("%d %s, want 400 duplicate_field on body", res.status, res.body)
			}
		})
	}
	e.expectRows(0, 0, 0)
}
