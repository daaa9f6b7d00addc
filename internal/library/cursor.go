package library

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"
	"math"
	"strconv"

	"github.com/memories-facade/memories-graphql/internal/account"
)

// ErrBadCursor is the error of a cursor that is not one of the listing's:
// truncated, forged, or issued for another account, scope or filter.
var ErrBadCursor = errors.New("not a cursor of this listing")

// cursorEncoding is unpadded base64url, strict: a cursor has exactly one
// spelling, so a changed last character is refused, not decoded alike.
var cursorEncoding = base64.RawURLEncoding.Strict()

// MaxOffset bounds the position a cursor names, so that the vendor page it
// maps onto stays a small number.
const MaxOffset = math.MaxInt32 - 1

const (
	cursorVersion = 1
	macBytes      = 9 // 72 bits: a forgery is a guess in 2^72
	cursorDomain  = "memories-graphql library cursor\x00"
)

// Cursors issues and reads the cursors of one listing for one account. A
// cursor is the position of a video in the listing and a MAC of it, keyed
// by the account's API key, over the listing (scope and filter): short,
// opaque, and refused by every other account, scope and filter. Keyed by
// the API key, replicas agree on cursors without sharing a secret, and a
// cursor tells nothing of the account. A Cursors is not safe for
// concurrent use.
type Cursors struct {
	mac    hash.Hash
	prefix []byte // the domain and the listing, MACed before each cursor
}

// CursorsFor returns the cursors of q for acct.
func CursorsFor(acct account.Account, q Listing) *Cursors {
	m := hmac.New(sha256.New, []byte(acct.Key()))
	return &Cursors{mac: m, prefix: q.canonical([]byte(cursorDomain))}
}

// Encode returns the cursor of the video at offset.
func (c *Cursors) Encode(offset int) string {
	var raw [1 + binary.MaxVarintLen64 + sha256.Size]byte
	b := append(raw[:0], cursorVersion)
	b = binary.AppendUvarint(b, uint64(offset))
	b = append(b, c.sum(b)[:macBytes]...)
	return cursorEncoding.EncodeToString(b)
}

// Decode returns the offset a cursor names, or ErrBadCursor.
func (c *Cursors) Decode(cursor string) (int, error) {
	if len(cursor) > 32 {
		return 0, ErrBadCursor
	}
	b, err := cursorEncoding.DecodeString(cursor)
	if err != nil || len(b) < 2+macBytes || b[0] != cursorVersion {
		return 0, ErrBadCursor
	}
	body, mac := b[:len(b)-macBytes], b[len(b)-macBytes:]
	offset, n := binary.Uvarint(body[1:])
	if n != len(body)-1 || offset > MaxOffset || !hmac.Equal(mac, c.sum(body)[:macBytes]) {
		return 0, ErrBadCursor
	}
	return int(offset), nil
}

func (c *Cursors) sum(body []byte) []byte {
	c.mac.Reset()
	c.mac.Write(c.prefix)
	c.mac.Write(body)
	return c.mac.Sum(nil)
}

// canonical appends q's scope and filter to b, each field with its
// length, so that no two listings share an encoding.
func (q Listing) canonical(b []byte) []byte {
	f := q.Filter
	field := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	field(q.UniqueID)
	field(string(f.Status))
	field(f.VideoName)
	field(f.VideoNo)
	field(f.CameraModel)
	field(f.Tag)
	if f.TakenAfter != nil {
		field(strconv.FormatInt(f.TakenAfter.UnixMilli(), 10))
	} else {
		field("")
	}
	if f.Near != nil {
		field(strconv.FormatFloat(f.Near.Latitude, 'g', -1, 64) + "," + strconv.FormatFloat(f.Near.Longitude, 'g', -1, 64))
	} else {
		field("")
	}
	return b
}
