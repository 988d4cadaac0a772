package esl_test

import (
	"bufio"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sirupsen/logrus"
)

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func itoa(i int) string { return strconv.Itoa(i) }

func discardLogger() *logrus.Logger {
	logger := logrus.New()
	logger.SetOutput(io.Discard)
	return logger
}

// rawPeer listens on 127.0.0.1 and runs script for every connection, for
// tests that need exact bytes or misbehavior esltest does not offer. It
// returns the address.
func rawPeer(t *testing.T, script func(conn net.Conn, br *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			wg.Go(func() {
				defer conn.Close()
				script(conn, bufio.NewReader(conn))
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// readCommand reads one command up to its blank line.
func readCommand(t *testing.T, br *bufio.Reader) string {
	var lines []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return strings.Join(lines, "\n")
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if len(lines) > 0 {
				return strings.Join(lines, "\n")
			}
			continue
		}
		lines = append(lines, line)
	}
}

// handshake plays FreeSWITCH's side of authentication and subscription.
func handshake(t *testing.T, conn net.Conn, br *bufio.Reader) {
	conn.Write([]byte("Content-Type: auth/request\n\n"))
	readCommand(t, br)
	conn.Write([]byte("Content-Type: command/reply\nReply-Text: +OK accepted\n\n"))
	readCommand(t, br)
	conn.Write([]byte("Content-Type: command/reply\nReply-Text: +OK event listener enabled json\n\n"))
}
