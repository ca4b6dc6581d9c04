package dashboard

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/trackelio/webhooks/internal/catalog"
)

// What a delivery's page renders of its body is bounded: indenting costs
// output that grows with the body's size times its depth, so a small event
// nested thousands of levels deep would cost megabytes per view. Bodies
// beyond these bounds are shown as sent, cut, with a notice.
const (
	// prettyMaxInput is the largest body the page indents.
	prettyMaxInput = 64 << 10
	// prettyMaxOutput is the most an indented body may grow to.
	prettyMaxOutput = 256 << 10
	// rawShown is how much of a body the page shows as sent.
	rawShown = 64 << 10
)

// bodyView is an event body as a delivery's page shows it.
type bodyView struct {
	// Pretty is the body indented for reading, "" when it is shown raw
	// only; Notice then says why.
	Pretty string
	Notice string
	// Raw is the body as signed, its first rawShown bytes when Cut.
	Raw  string
	Cut  bool
	Size int
}

// newBodyView indents a JSON body for reading when that stays within the
// bounds above, and keeps the raw bytes, cut to rawShown.
func newBodyView(body []byte) bodyView {
	v := bodyView{Size: len(body), Raw: text(body)}
	if len(body) > rawShown {
		v.Raw, v.Cut = text(body[:rawShown]), true
	}
	switch {
	case len(body) > prettyMaxInput:
		v.Notice = fmt.Sprintf("The body is %s: it is shown as sent, not indented.", kib(len(body)))
	case catalog.CheckShape(body) != nil:
		// Too deep, a repeated key, or not JSON: indenting would cost
		// or mislead.
		v.Notice = fmt.Sprintf("The body nests deeper than %d levels or is not plain JSON: it is shown as sent, not indented.", catalog.MaxDepth)
	default:
		var buf bytes.Buffer
		if err := json.Indent(&buf, body, "", "  "); err != nil || buf.Len() > prettyMaxOutput {
			v.Notice = "The body is too large to indent: it is shown as sent."
			break
		}
		v.Pretty = text(buf.Bytes())
	}
	return v
}

// kib writes a byte count in KiB, rounded up.
func kib(n int) string { return fmt.Sprintf("%d KiB", (n+1023)>>10) }
