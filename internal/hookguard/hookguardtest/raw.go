// Package hookguardtest holds the raw-HTTP helpers the tests of both hooks'
// bounds share (bridge: /hooks/redmine and both together; espaceclient:
// /hooks/inbound): a listener that counts the bytes the server read, and
// posts written by hand so a body can be larger than what the server reads,
// chunked, trickled or held open.
package hookguardtest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// CountingListener counts the bytes the server reads from its connections.
type CountingListener struct {
	net.Listener
	Read *atomic.Int64
}

// Accept wraps each connection so its reads are counted.
func (l CountingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{Conn: c, read: l.Read}, nil
}

type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// CloseWrite keeps net/http's graceful close (FIN, then a pause before the
// RST), so that the client reads an early answer.
func (c countingConn) CloseWrite() error {
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		return tc.CloseWrite()
	}
	return nil
}

// Post is one POST written by hand on its own connection, so that a body
// can be larger than what the server reads, sent chunked or trickled.
type Post struct {
	Path   string
	Header map[string]string
	// Size is the body's length; Chunked sends it without Content-Length.
	Size    int64
	Chunked bool
	// Pause is slept between 1-byte writes (a slow sender) when not zero.
	Pause time.Duration
	// Hold keeps the connection open, unanswered, until it is closed.
	Hold chan struct{}
	// Content, when not nil, is the body (Size is then its length).
	Content []byte
}

// Result is what the server answered and how much the client wrote.
type Result struct {
	Status int
	Header http.Header
	Body   string
	Sent   int64
	Err    error
}

// Do sends p to addr and reads the answer.
func (p Post) Do(t testing.TB, addr string) Result {
	t.Helper()
	if p.Content != nil {
		p.Size = int64(len(p.Content))
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	var head strings.Builder
	fmt.Fprintf(&head, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n", p.Path, addr)
	for k, v := range p.Header {
		fmt.Fprintf(&head, "%s: %s\r\n", k, v)
	}
	if p.Chunked {
		head.WriteString("Transfer-Encoding: chunked\r\n\r\n")
	} else {
		fmt.Fprintf(&head, "Content-Length: %d\r\n\r\n", p.Size)
	}
	if _, err := io.WriteString(conn, head.String()); err != nil {
		t.Fatal(err)
	}
	var sent atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for left := p.Size; left > 0; {
			n := min(int64(len(chunk)), left)
			if p.Pause > 0 || p.Hold != nil {
				n = 1
			}
			if p.Content != nil {
				chunk = p.Content[p.Size-left:]
			}
			var err error
			if p.Chunked {
				_, err = fmt.Fprintf(conn, "%x\r\n%s\r\n", n, chunk[:n])
			} else {
				_, err = conn.Write(chunk[:n])
			}
			if err != nil {
				return
			}
			sent.Add(n)
			left -= n
			if p.Hold != nil {
				<-p.Hold
				conn.Close()
				return
			}
			time.Sleep(p.Pause)
		}
		if p.Chunked {
			_, _ = io.WriteString(conn, "0\r\n\r\n")
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		conn.Close()
		<-done
		return Result{Sent: sent.Load(), Err: err}
	}
	b, _ := io.ReadAll(resp.Body)
	conn.Close()
	<-done
	return Result{Status: resp.StatusCode, Header: resp.Header, Body: string(b), Sent: sent.Load()}
}
