package dashboard

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
)

//go:embed static
var staticFS embed.FS

// asset is an embedded file with the version its URL carries.
type asset struct {
	body    []byte
	version string
	ctype   string
}

// assets are read and hashed once; a URL names the content's hash, so
// browsers may cache a file for good and still see every change.
var assets = func() map[string]asset {
	out := map[string]asset{}
	files, _ := fs.ReadDir(staticFS, "static")
	for _, f := range files {
		b, err := staticFS.ReadFile("static/" + f.Name())
		if err != nil {
			panic("dashboard: read static " + f.Name() + ": " + err.Error())
		}
		sum := sha256.Sum256(b)
		out[f.Name()] = asset{body: b, version: hex.EncodeToString(sum[:6]), ctype: contentType(f.Name())}
	}
	return out
}()

// contentType is a static file's type by its extension. Go's own table
// lacks .ico, and the system's may not be there.
func contentType(name string) string {
	if path.Ext(name) == ".ico" {
		return "image/x-icon"
	}
	return mime.TypeByExtension(path.Ext(name))
}

// assetPath is the URL of a static file; an unknown name panics while the
// templates are tested rather than linking to nothing.
func assetPath(name string) string {
	a, ok := assets[name]
	if !ok {
		panic("dashboard: no static file " + name)
	}
	return "/dashboard/static/" + name + "?v=" + a.version
}

func serveStatic(w http.ResponseWriter, r *http.Request) {
	serveAsset(w, r, r.PathValue("file"))
}

// serveFavicon answers /favicon.ico, which browsers and link previewers ask
// for at the root of the site whatever the pages link to.
func serveFavicon(w http.ResponseWriter, r *http.Request) {
	serveAsset(w, r, "favicon.ico")
}

func serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	a, ok := assets[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	if r.URL.Query().Get("v") == a.version {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	w.Write(a.body) //nolint:errcheck // the client went away
}
