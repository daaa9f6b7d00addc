package memories

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// FuzzScanner checks the scanner's grammar against encoding/json's: it
// reads exactly the JSON texts (nested no deeper than it goes), and the
// elements of an array as encoding/json splits them.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{
		`{"a":1}`, `[1, "x", null, true, false, {"b":[]}, -0.5e+3]`, ` "\u00e9\n" `, `01`, `1.`, `-`, `1e`,
		`{"a" 1}`, `{"a":1,}`, `[1,]`, `"\x"`, "\"\x01\"", `tru`, `nul`, `{}`, `[]`, `"` + "\xff" + `"`,
		strings.Repeat("[", maxScanDepth+1) + strings.Repeat("]", maxScanDepth+1),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := &scanner{b: b}
		_, ok := s.value()
		ok = ok && s.atEnd()
		valid := json.Valid(b)
		if ok && !valid {
			t.Fatalf("the scanner reads %q, which is not JSON", b)
		}
		if valid && !ok && s.depth <= maxScanDepth {
			t.Fatalf("the scanner refuses %q, which is JSON nested no deeper than %d", b, maxScanDepth)
		}
		if !valid || kindOf(b) != '[' {
			return
		}
		var want []json.RawMessage
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		got, err := elements(b)
		if err != nil || len(got) != len(want) || len(want) > 0 && !reflect.DeepEqual(got, want) {
			t.Fatalf("elements(%q) = %q, %v; want %q", b, got, err, want)
		}
	})
}
