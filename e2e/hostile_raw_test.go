package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Raw TCP exchanges with the running binary, for what net/http's client
// cannot do: declare a body larger than what is sent, send it chunked past a
// cap, or trickle headers and bodies byte by byte.

// ---- raw connections ---------------------------------------------------------------------------

// rawResult is what rawExchange saw.
type rawResult struct {
	resp    hResp
	took    time.Duration // from the first byte written to the answer (or the cut)
	written int64         // body bytes written when the answer came
	closed  bool          // the server closed the connection without answering
}

// countingWriter counts what it passes on.
type countingWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// rawExchange opens a TCP connection to base, writes head (the request line
// and headers, ending with the blank line) and runs feed in the background
// to write the body, while it reads the answer for at most within. The
// connection is closed on return, which stops feed. Safe to call from any
// goroutine (it never stops the test).
func rawExchange(t *testing.T, base, head string, feed func(w io.Writer) error, within time.Duration) rawResult {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		return rawResult{resp: hResp{err: err}}
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		return rawResult{resp: hResp{err: fmt.Errorf("dial %s: %w", u.Host, err)}}
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, head); err != nil {
		return rawResult{resp: hResp{err: fmt.Errorf("writing the headers: %w", err)}}
	}
	cw := &countingWriter{w: conn}
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		if feed != nil {
			_ = feed(cw)
		}
	}()
	_ = conn.SetReadDeadline(start.Add(within))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	res := rawResult{took: time.Since(start), written: cw.n.Load()}
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			res.resp = hResp{err: fmt.Errorf("no answer within %s (%d body bytes written): %w", within, res.written, err)}
		} else {
			res.closed = true
			res.resp = hResp{err: err}
		}
	} else {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		res.resp = hResp{status: resp.StatusCode, header: resp.Header, body: body}
	}
	conn.Close()
	select {
	case <-fed:
	case <-time.After(10 * time.Second):
		t.Errorf("the body writer did not stop 10 s after the connection was closed")
	}
	return res
}

// requestHead writes a request line and headers for host (from base).
func requestHead(base, method, path string, headers map[string]string) string {
	u, _ := url.Parse(base)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, u.Host)
	keys := make([]string, 0, len(headers))
	for k := range headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\r\n", k, headers[k])
	}
	b.WriteString("\r\n")
	return b.String()
}

// zeros writes n bytes of 'x' in 32 KiB pieces, or fewer if writing fails.
func fixedBody(n int64) func(w io.Writer) error {
	return func(w io.Writer) error {
		buf := bytes.Repeat([]byte("x"), 32<<10)
		for n > 0 {
			k := int64(len(buf))
			if n < k {
				k = n
			}
			if _, err := w.Write(buf[:k]); err != nil {
				return err
			}
			n -= k
		}
		return nil
	}
}

// chunked writes n bytes of 'x' in HTTP/1.1 chunks of 32 KiB, then the last
// chunk, or stops when writing fails.
func chunkedBody(n int64) func(w io.Writer) error {
	return func(w io.Writer) error {
		buf := bytes.Repeat([]byte("x"), 32<<10)
		for n > 0 {
			k := int64(len(buf))
			if n < k {
				k = n
			}
			if _, err := fmt.Fprintf(w, "%x\r\n%s\r\n", k, buf[:k]); err != nil {
				return err
			}
			n -= k
		}
		_, err := io.WriteString(w, "0\r\n\r\n")
		return err
	}
}

// trickle writes data one byte every interval, until done or writing fails.
func trickled(data []byte, interval time.Duration) func(w io.Writer) error {
	return func(w io.Writer) error {
		for i := range data {
			if _, err := w.Write(data[i : i+1]); err != nil {
				return err
			}
			time.Sleep(interval)
		}
		return nil
	}
}
