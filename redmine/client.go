package redmine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"
	goredmine "github.com/mattn/go-redmine"
)

// Config says how to reach Redmine.
type Config struct {
	URL     string
	APIKey  string
	Timeout time.Duration
	// Transport is the base round tripper (nil: a pooled default). Tests and
	// benchmarks may wrap it to count requests.
	Transport http.RoundTripper
}

// Client talks to the Redmine REST API as one user. It is safe for
// concurrent use. The API key travels only in the X-Redmine-API-Key header,
// and every write carries X-Skip-Webhooks so Passerelle's own writes do not
// come back as webhook nudges.
type Client struct {
	base string
	rest *resty.Client
	lib  *goredmine.Client
}

// New returns a client for cfg.
func New(cfg Config) *Client {
	if cfg.Timeout == 0 {
		cfg.Timeout = 20 * time.Second
	}
	base := strings.TrimRight(cfg.URL, "/")
	rt := cfg.Transport
	if rt == nil {
		rt = &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 8,
			IdleConnTimeout:     90 * time.Second,
		}
	}
	hc := &http.Client{Timeout: cfg.Timeout, Transport: &keyTransport{key: cfg.APIKey, origin: originOf(base), next: rt}}
	rest := resty.NewWithClient(hc).
		SetBaseURL(base).
		SetHeader("Accept", "application/json").
		SetHeader("User-Agent", "Passerelle")
	// go-redmine puts ?key= in every URL: the transport moves it to the header.
	lib := goredmine.NewClient(base, cfg.APIKey)
	lib.Client = hc
	return &Client{base: base, rest: rest, lib: lib}
}

// keyTransport sends the API key in the X-Redmine-API-Key header and removes
// any key= query parameter (go-redmine adds one to every URL), so the key never
// lands in an access log. Writes get X-Skip-Webhooks. The key goes only to
// Redmine's own origin (scheme, host and port of Config.URL): a redirect to
// any other host, or to the same host over another scheme or port, is
// followed without it.
type keyTransport struct {
	key    string
	origin string
	next   http.RoundTripper
}

func (t *keyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if q := r.URL.Query(); q.Has("key") {
		q.Del("key")
		r.URL.RawQuery = q.Encode()
	}
	if originOf(r.URL.String()) != t.origin {
		r.Header.Del("X-Redmine-API-Key")
		return t.next.RoundTrip(r)
	}
	r.Header.Set("X-Redmine-API-Key", t.key)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		r.Header.Set("X-Skip-Webhooks", "1")
	}
	return t.next.RoundTrip(r)
}

// originOf returns "scheme://host:port" of a URL, lowercased and with the
// scheme's default port made explicit, or "" when it cannot be parsed (which
// matches no Redmine origin: the key is then not sent).
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// APIError is an HTTP answer from Redmine that is not a success.
type APIError struct {
	Method string
	Path   string
	Status int
	// Errors are Redmine's own messages ({"errors":[...]}).
	Errors []string
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("redmine %s %s: HTTP %d", e.Method, e.Path, e.Status)
	if len(e.Errors) > 0 {
		msg += ": " + strings.Join(e.Errors, "; ")
	}
	return msg
}

// Temporary tells whether retrying later may succeed: 5xx, 408, 409 and 429 may
// pass; any other 4xx (422 invalid, 403 forbidden, 404 gone) will not.
func (e *APIError) Temporary() bool {
	return e.Status >= 500 || e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout || e.Status == http.StatusConflict
}

// IsPermanent tells whether err is a Redmine answer that retrying cannot fix.
// Network errors, timeouts and 5xx are not permanent.
func IsPermanent(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && !ae.Temporary()
}

// IsNotFound tells whether err is a 404 from Redmine.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

type errorsBody struct {
	Errors []string `json:"errors"`
}

// do sends a request and turns non-2xx answers into *APIError.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) (*resty.Response, error) {
	req := c.rest.R().SetContext(ctx).SetError(&errorsBody{})
	if query != nil {
		req.SetQueryParamsFromValues(query)
	}
	if body != nil {
		req.SetHeader("Content-Type", "application/json").SetBody(body)
	}
	if out != nil {
		req.SetResult(out)
	}
	resp, err := req.Execute(method, path)
	if err != nil {
		return nil, fmt.Errorf("redmine %s %s: %w", method, path, err)
	}
	if resp.IsError() {
		ae := &APIError{Method: method, Path: path, Status: resp.StatusCode()}
		if eb, ok := resp.Error().(*errorsBody); ok {
			ae.Errors = eb.Errors
		}
		return resp, ae
	}
	return resp, nil
}
