package dashboard

import (
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestFavicon(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	serveFavicon(w, httptest.NewRequest("GET", "/favicon.ico", nil))
	// An icon directory of one image: reserved 0, type 1 (icon), count 1.
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "image/x-icon" || !strings.HasPrefix(w.Body.String(), "\x00\x00\x01\x00\x01\x00") {
		t.Errorf("GET /favicon.ico = %d %q, %d bytes; want an icon", w.Code, w.Header().Get("Content-Type"), w.Body.Len())
	}
}

// TestColourContrast holds every pair of colours the stylesheet draws text
// with, on the backgrounds it draws it on, to WCAG's 4.5:1 for normal
// text, in the light and the dark scheme: a badge such as Inactive is read
// on a card, the page and its own tinted background.
func TestColourContrast(t *testing.T) {
	t.Parallel()
	css := string(assets["app.css"].body)
	light := cssColours(css[strings.Index(css, ":root {"):])
	darkAt := strings.Index(css, "@media (prefers-color-scheme: dark)")
	dark := cssColours(css[darkAt:])
	for name, v := range light {
		if _, ok := dark[name]; !ok {
			dark[name] = v
		}
	}
	pairs := [][2]string{
		{"text", "bg"}, {"text", "surface"}, {"text", "warn-bg"}, {"text", "ok-bg"}, {"text", "fail-bg"},
		{"muted", "bg"}, {"muted", "surface"}, {"muted", "idle-bg"},
		{"idle", "bg"}, {"idle", "surface"}, {"idle", "idle-bg"},
		{"ok", "bg"}, {"ok", "surface"}, {"ok", "ok-bg"},
		{"fail", "bg"}, {"fail", "surface"}, {"fail", "fail-bg"},
		{"warn", "bg"}, {"warn", "surface"}, {"warn", "warn-bg"},
	}
	for scheme, colours := range map[string]map[string]string{"light": light, "dark": dark} {
		for _, p := range pairs {
			fg, bg := colours[p[0]], colours[p[1]]
			if fg == "" || bg == "" {
				t.Fatalf("%s: no --%s or --%s in app.css", scheme, p[0], p[1])
			}
			if r := contrast(fg, bg); r < 4.5 {
				t.Errorf("%s: --%s %s on --%s %s has contrast %.2f:1, want at least 4.5:1", scheme, p[0], fg, p[1], bg, r)
			}
		}
	}
}

var cssColour = regexp.MustCompile(`--([a-z-]+):\s*(#[0-9a-fA-F]{6})`)

// cssColours reads the colour variables of the first block of css.
func cssColours(css string) map[string]string {
	block := css[:strings.Index(css, "}")]
	out := map[string]string{}
	for _, m := range cssColour.FindAllStringSubmatch(block, -1) {
		out[m[1]] = m[2]
	}
	return out
}

// contrast is WCAG 2's contrast ratio of two #rrggbb colours.
func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05)
}

func luminance(hex string) float64 {
	channel := func(i int) float64 {
		v, _ := strconv.ParseUint(hex[i:i+2], 16, 8)
		c := float64(v) / 255
		if c <= 0.03928 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	return 0.2126*channel(1) + 0.7152*channel(3) + 0.0722*channel(5)
}
