package noticemail

import (
	"embed"
	htmltemplate "html/template"
	"io"
	"strings"
	texttemplate "text/template"
)

//go:embed templates
var templateFS embed.FS

// The templates are parsed once, at start, and only read after.
var (
	textMail = texttemplate.Must(texttemplate.New("mail.txt").Funcs(texttemplate.FuncMap{"inc": func(i int) int { return i + 1 }}).ParseFS(templateFS, "templates/mail.txt"))
	htmlMail = htmltemplate.Must(htmltemplate.New("mail.html").ParseFS(templateFS, "templates/mail.html"))
)

// view is what both templates show.
type view struct {
	Subject        string
	Intro          string // a digest's opening line
	Sections       []section
	Workspace      string
	Why            string // why the recipient gets this mail
	UnsubscribeURL string
}

// render executes a template on v. The templates and the view are this
// package's own, so an error is a bug, which the tests would show.
func render(t interface{ Execute(io.Writer, any) error }, v view) string {
	var b strings.Builder
	if err := t.Execute(&b, v); err != nil {
		panic("noticemail: " + err.Error())
	}
	return b.String()
}
