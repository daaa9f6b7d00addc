package memories

import "strings"

// DefaultUniqueID is the upload scope the upstream assumes when a call
// names none.
const DefaultUniqueID = "default"

// Blank reports an id that is empty or only white space, which the
// upstream refuses.
func Blank(id string) bool { return strings.TrimSpace(id) == "" }
