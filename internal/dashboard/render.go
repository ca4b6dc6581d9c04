package dashboard

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

//go:embed templates
var templateFS embed.FS

// pages holds one template set per page: the shared layout and parts plus
// that page's "content", parsed once at start.
type pages struct {
	byName map[string]*template.Template
}

var funcs = template.FuncMap{
	"asset":   assetPath,
	"rfc3339": func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") },
	// rfc3339nano keeps every digit, for times a form sends back.
	"rfc3339nano": func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
	// utc is the exact time, shown before the script localises it and kept
	// as the hover title after.
	"utc":       func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"codeClass": codeClass,
	"fieldError": func(field, message string) fieldMessage {
		return fieldMessage{ID: field, Message: message}
	},
	"secretField": func(id, label, value string) secretField {
		return secretField{ID: id, Label: label, Value: value}
	},
	"kib":          kib,
	"webhookPath":  webhookPath,
	"deliveryPath": deliveryPath,
	"percent": func(f float64) string {
		return strconv.FormatFloat(f*100, 'f', 1, 64) + " %"
	},
}

// fieldMessage is a form field's error, for the "field-error" part.
type fieldMessage struct {
	ID, Message string
}

// secretField is a read-only secret with a copy button, for the "secret" part.
type secretField struct {
	ID, Label, Value string
}

// codeClass groups HTTP status codes for their colour.
func codeClass(code int) string {
	if code >= 200 && code <= 299 {
		return "ok"
	}
	return "fail"
}

func mustParsePages() *pages {
	shared := template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/shared/*.html"))
	files, err := fs.Glob(templateFS, "templates/pages/*.html")
	if err != nil || len(files) == 0 {
		panic(fmt.Sprintf("dashboard: no page templates: %v", err))
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, f := range files {
		t := template.Must(template.Must(shared.Clone()).ParseFS(templateFS, f))
		p.byName[strings.TrimSuffix(path.Base(f), ".html")] = t
	}
	return p
}

type startKey struct{}

// withStart notes when the request arrived, for the Server-Timing header.
func withStart(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), startKey{}, time.Now()))
}

// render executes a page into a buffer, so a template error becomes a 500
// rather than half a page, then writes it with its status.
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, status int, page string, view any) error {
	t, ok := d.pages.byName[page]
	if !ok {
		return fmt.Errorf("render: no page %q", page)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", view); err != nil {
		return fmt.Errorf("render %s: %w", page, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	if start, ok := r.Context().Value(startKey{}).(time.Time); ok {
		// Server time, so the cost of a page can be read in the browser.
		h.Set("Server-Timing", fmt.Sprintf("app;dur=%.1f", float64(time.Since(start).Microseconds())/1000))
	}
	w.WriteHeader(status)
	w.Write(buf.Bytes()) //nolint:errcheck // the client went away
	return nil
}
