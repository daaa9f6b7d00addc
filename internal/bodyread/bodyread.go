// Package bodyread reads an HTTP body into one buffer sized by the length
// it declares, rather than one that io.ReadAll grows and copies as it goes
// from 512 bytes. Both ends of the request path read bodies this way: the
// upstream's answers (internal/memories; a page of 200 videos is some
// 100 KB) and the requests' own (internal/gqlhttp).
package bodyread

import "io"

// Read reads r to its end, or to limit bytes. declared is the length the
// body announces (its Content-Length; negative when unknown): the buffer
// starts at it, capped at reserve, and one byte more to see the end without
// growing; past that it grows as data arrives, so that a sender that
// announces a large body and sends it slowly holds only what it sent.
// whole reports that r ended within limit, so nothing is left unread.
func Read(r io.Reader, declared, reserve, limit int64) (buf []byte, whole bool, err error) {
	size := int64(512)
	if declared >= 0 {
		size = min(declared, reserve) + 1
	}
	buf = make([]byte, 0, size)
	lr := io.LimitedReader{R: r, N: limit}
	for {
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			// The limit's end is not the body's.
			return buf, lr.N > 0, nil
		}
		if err != nil {
			return buf, false, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // grow, as io.ReadAll does
		}
	}
}
