package redmine

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Upload sends a file's bytes and returns the token to attach it with.
// Redmine requires application/octet-stream (anything else: 406) and keeps
// the token for one use.
func (c *Client) Upload(ctx context.Context, filename string, data []byte) (string, error) {
	var out struct {
		Upload struct {
			Token string `json:"token"`
		} `json:"upload"`
	}
	req := c.rest.R().SetContext(ctx).
		SetHeader("Content-Type", "application/octet-stream").
		SetQueryParam("filename", filename).
		SetBody(data).
		SetResult(&out).SetError(&errorsBody{})
	resp, err := req.Post("/uploads.json")
	if err != nil {
		return "", fmt.Errorf("redmine upload %s: %w", filename, err)
	}
	if resp.IsError() {
		ae := &APIError{Method: "POST", Path: "/uploads.json", Status: resp.StatusCode()}
		if eb, ok := resp.Error().(*errorsBody); ok {
			ae.Errors = eb.Errors
		}
		return "", ae
	}
	if out.Upload.Token == "" {
		return "", fmt.Errorf("redmine upload %s: no token in the answer", filename)
	}
	return out.Upload.Token, nil
}

// ErrTooLarge is returned by Download for a file over the limit.
var ErrTooLarge = fmt.Errorf("attachment over the size limit")

// Download fetches an attachment's content, refusing more than max bytes.
// The content URL must be on this Redmine: the API key is never sent elsewhere.
func (c *Client) Download(ctx context.Context, a Attachment, max int64) ([]byte, error) {
	if a.Filesize > max {
		return nil, fmt.Errorf("%s (%d bytes): %w", a.Filename, a.Filesize, ErrTooLarge)
	}
	u, err := url.Parse(a.ContentURL)
	if err != nil {
		return nil, fmt.Errorf("attachment %d: bad content url: %w", a.ID, err)
	}
	base, _ := url.Parse(c.base)
	if originOf(u.String()) != originOf(c.base) {
		// Redmine builds content_url from its host and protocol settings,
		// which may differ from the URL we use: keep only the path (the key
		// is sent only to our own origin, see keyTransport).
		u = base.ResolveReference(&url.URL{Path: strings.TrimPrefix(u.Path, base.Path)})
		if !strings.HasPrefix(u.Path, base.Path) {
			u.Path = base.Path + u.Path
		}
	}
	resp, err := c.rest.R().SetContext(ctx).SetDoNotParseResponse(true).Get(u.String())
	if err != nil {
		return nil, fmt.Errorf("downloading attachment %d: %w", a.ID, err)
	}
	body := resp.RawBody()
	defer body.Close()
	if resp.StatusCode() != http.StatusOK {
		return nil, &APIError{Method: "GET", Path: u.Path, Status: resp.StatusCode()}
	}
	data, err := io.ReadAll(io.LimitReader(body, max+1))
	if err != nil {
		return nil, fmt.Errorf("downloading attachment %d: %w", a.ID, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s: %w", a.Filename, ErrTooLarge)
	}
	return data, nil
}
