package esl

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// DefaultMaxFrameSize is the default limit on one frame, header block and
// body together. Real CHANNEL_HANGUP_COMPLETE events of 135 KB exist, so the
// limit leaves a wide margin while still bounding memory per frame.
const DefaultMaxFrameSize = 4 << 20

// Content types of the frames FreeSWITCH sends on the inbound socket.
const (
	ContentTypeAuthRequest      = "auth/request"
	ContentTypeCommandReply     = "command/reply"
	ContentTypeAPIResponse      = "api/response"
	ContentTypeEventJSON        = "text/event-json"
	ContentTypeEventPlain       = "text/event-plain"
	ContentTypeDisconnectNotice = "text/disconnect-notice"
	ContentTypeRudeRejection    = "text/rude-rejection"
	ContentTypeLogData          = "log/data"
)

// ErrMalformedFrame reports a frame that breaks the framing rules. The
// stream position after it is unknown, so the connection must be closed.
var ErrMalformedFrame = errors.New("esl: malformed frame")

// ErrFrameTooLarge reports a frame bigger than the configured maximum.
var ErrFrameTooLarge = errors.New("esl: frame too large")

// Frame is one frame of the socket: its outer header block, with values
// exactly as sent (they are not URL-encoded), and the body that its
// Content-Length counted.
type Frame struct {
	Header []Header
	Body   []byte
}

// Get returns the first value of the outer header name, or "".
func (f *Frame) Get(name string) string {
	for _, h := range f.Header {
		if h.Name == name {
			return h.Value
		}
	}
	return ""
}

// ContentType returns the frame's Content-Type header.
func (f *Frame) ContentType() string { return f.Get("Content-Type") }

// FrameReader reads frames from a byte stream, a socket or a capture file.
// The result does not depend on how the bytes are split across reads. A
// frame is returned as soon as its last byte is read, without waiting for
// any byte of the next frame.
type FrameReader struct {
	br      *bufio.Reader
	maxSize int
	line    []byte
}

// NewFrameReader returns a reader of frames from r. A frame bigger than
// maxSize bytes (header block and body together) fails with
// ErrFrameTooLarge; maxSize <= 0 means DefaultMaxFrameSize.
func NewFrameReader(r io.Reader, maxSize int) *FrameReader {
	if maxSize <= 0 {
		maxSize = DefaultMaxFrameSize
	}
	return &FrameReader{br: bufio.NewReaderSize(r, 64<<10), maxSize: maxSize}
}

// ReadFrame reads the next frame. It returns io.EOF only when the stream
// ends between two frames, io.ErrUnexpectedEOF when it ends inside one, and
// an error wrapping ErrMalformedFrame or ErrFrameTooLarge when the frame
// breaks the rules. Blank lines before a header block are skipped.
//
// A header line is split at its first ": ", so any name is accepted with its
// case and punctuation. A line "Name:" gives an empty value. The body length
// comes from the Content-Length header (exact spelling), and a frame without
// one has no body.
func (fr *FrameReader) ReadFrame() (Frame, error) {
	var frame Frame
	size := 0
	started := false

	for {
		line, err := fr.readLine(&size)
		if err != nil {
			if err == io.EOF && started {
				return Frame{}, io.ErrUnexpectedEOF
			}
			return Frame{}, err
		}
		if len(line) == 0 {
			if started {
				break
			}
			continue // a blank line between frames
		}
		started = true
		h, err := splitHeaderLine(line)
		if err != nil {
			return Frame{}, err
		}
		frame.Header = append(frame.Header, h)
	}

	length, err := contentLength(frame.Header, false)
	if err != nil {
		return Frame{}, err
	}
	if length < 0 {
		return frame, nil
	}
	if length > fr.maxSize-size {
		return Frame{}, fmt.Errorf("%w: Content-Length %d exceeds the limit of %d bytes for one frame; raise the maximum frame size if such events are expected", ErrFrameTooLarge, length, fr.maxSize)
	}
	frame.Body = make([]byte, length)
	if _, err := io.ReadFull(fr.br, frame.Body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, err
	}
	return frame, nil
}

// readLine returns the next line without its LF. The returned slice is valid
// until the next call. size counts every byte read for the current frame.
func (fr *FrameReader) readLine(size *int) ([]byte, error) {
	fr.line = fr.line[:0]
	for {
		chunk, err := fr.br.ReadSlice('\n')
		*size += len(chunk)
		if *size > fr.maxSize {
			return nil, fmt.Errorf("%w: header block exceeds the limit of %d bytes for one frame", ErrFrameTooLarge, fr.maxSize)
		}
		switch err {
		case nil:
			if len(fr.line) == 0 {
				return chunk[:len(chunk)-1], nil
			}
			fr.line = append(fr.line, chunk[:len(chunk)-1]...)
			return fr.line, nil
		case bufio.ErrBufferFull:
			fr.line = append(fr.line, chunk...)
		default:
			if err == io.EOF && (len(chunk) > 0 || len(fr.line) > 0) {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// splitHeaderLine splits "Name: value" at the first ": ". The name and value
// are copied, so they stay valid after the reader's buffer moves on.
func splitHeaderLine(line []byte) (Header, error) {
	i := bytes.Index(line, []byte(": "))
	if i < 0 {
		if n := len(line); n > 1 && line[n-1] == ':' {
			return Header{Name: string(line[:n-1])}, nil
		}
		return Header{}, fmt.Errorf("%w: header line %q has no \": \" separator", ErrMalformedFrame, truncate(line, 64))
	}
	if i == 0 {
		return Header{}, fmt.Errorf("%w: header line %q has an empty name", ErrMalformedFrame, truncate(line, 64))
	}
	return Header{Name: string(line[:i]), Value: string(line[i+2:])}, nil
}

// contentLength returns the Content-Length of a header block, or -1 when it
// has none. Repeated values in an outer frame must agree. An inner block
// (useLast) may repeat the header with other values, and then the last one
// wins, because FreeSWITCH's serializer appends its own Content-Length
// after any copied one.
func contentLength(headers []Header, useLast bool) (int, error) {
	length := -1
	for _, h := range headers {
		if h.Name != "Content-Length" {
			continue
		}
		n, err := parseLength(h.Value)
		if err != nil {
			return 0, err
		}
		if length >= 0 && n != length && !useLast {
			return 0, fmt.Errorf("%w: Content-Length given twice with different values %d and %d", ErrMalformedFrame, length, n)
		}
		length = n
	}
	return length, nil
}

func parseLength(s string) (int, error) {
	if s == "" || len(s) > 10 {
		return 0, fmt.Errorf("%w: invalid Content-Length %q", ErrMalformedFrame, s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: invalid Content-Length %q: expected decimal digits", ErrMalformedFrame, s)
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%w: invalid Content-Length %q: %w", ErrMalformedFrame, s, err)
	}
	return n, nil
}

// truncate shortens b for an error message.
func truncate(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return b[:n]
}
