package entra

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// redactedMark replaces whatever redaction removes.
const redactedMark = "[redacted]"

// minFragment is the shortest prefix or suffix of a secret (in runes)
// that redactSecrets removes on its own: what is left of a secret that a
// server, proxy or cap cut in two.
const minFragment = 8

// redactSecrets returns s with every occurrence of each secret replaced by
// "[redacted]", in whatever encoding a server, proxy or log line may have
// applied to it, mixed freely within one occurrence:
//   - raw;
//   - URL query, form or path escaping: %XX in either case (multi-byte
//     runes as %XX sequences), "+" for a space;
//   - JSON string escaping: \" \\ \/ \b \f \n \r \t and \uXXXX in either
//     case, with surrogate pairs;
//   - base64 of the secret, standard or URL alphabet, padded or not, at any
//     byte alignment inside a longer base64 text.
//
// A prefix or a suffix of at least minFragment runes of a secret (what a
// cut leaves) is removed too. Call it on the whole string, before any
// truncation. Empty secrets are ignored.
func redactSecrets(s string, secrets []string) string {
	return redactNeedles(s, buildNeedles(secrets))
}

// redactNeedles is redactSecrets with the needles built.
func redactNeedles(s string, needles []*needle) string {
	if len(needles) == 0 || s == "" {
		return s
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		if end := longestMatch(s, i, needles); end > i {
			b.WriteString(s[last:i])
			b.WriteString(redactedMark)
			i, last = end, end
			continue
		}
		_, n := utf8.DecodeRuneInString(s[i:])
		i += n
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// needle is one string to remove, indexed by rune for matches that start
// inside it (suffix fragments).
type needle struct {
	runes     []rune
	fragments bool           // prefixes and suffixes of >= minFragment runes count
	starts    map[rune][]int // offsets where a match may start
}

// buildNeedles returns the needles for secrets: each secret itself (with
// fragments) and the alignment-independent cores of its base64 forms.
func buildNeedles(secrets []string) []*needle {
	var out []*needle
	seen := map[string]bool{}
	add := func(s string, fragments bool) {
		if s == "" || seen[s] {
			return
		}
		seen[s] = true
		n := &needle{runes: []rune(s), starts: map[rune][]int{}}
		n.fragments = fragments && len(n.runes) > minFragment
		for m, r := range n.runes {
			if m == 0 || n.fragments && len(n.runes)-m >= minFragment {
				n.starts[r] = append(n.starts[r], m)
			}
		}
		out = append(out, n)
	}
	for _, s := range secrets {
		add(s, true)
		for _, core := range base64Cores(s) {
			add(core, false)
		}
	}
	return out
}

// base64Cores returns, for each byte alignment and both alphabets, the
// base64 characters that depend only on the bytes of s: whatever precedes
// or follows s in the encoded data, these appear. Cores shorter than
// minFragment are left out (too likely to occur by chance).
func base64Cores(s string) []string {
	var out []string
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		for k := 0; k < 3; k++ {
			data := append(make([]byte, k), s...)
			full := enc.EncodeToString(data)
			skip := (8*k + 5) / 6     // characters touched by the k prefix bytes
			keep := 8 * len(data) / 6 // characters complete without what follows
			if keep-skip >= minFragment {
				out = append(out, full[skip:keep])
			}
		}
	}
	return out
}

// redactKeyed replaces the value that follows every credential-bearing
// name (client_secret, client_assertion, assertion, refresh_token,
// access_token, id_token, code_verifier, password) with "[redacted]",
// whatever the value: an echoed request names what it carries, even a
// credential redactSecrets was not told about. Forms: "k=v", "k%3Dv",
// JSON "k":"v" (escaped quotes included) and "k: v".
func redactKeyed(s string) string {
	lb := []byte(s) // ASCII lower case only, so byte offsets stay valid
	for i, c := range lb {
		if 'A' <= c && c <= 'Z' {
			lb[i] = c + 'a' - 'A'
		}
	}
	low := string(lb)
	var b strings.Builder
	last := 0
	for i := 0; i < len(low); i++ {
		if i > 0 && isNameChar(low[i-1]) {
			continue
		}
		for _, key := range []string{"client_secret", "client_assertion", "assertion", "refresh_token",
			"access_token", "id_token", "code_verifier", "password"} {
			if !strings.HasPrefix(low[i:], key) {
				continue
			}
			v := skipSeparator(low, i+len(key))
			end := v
			for end >= 0 && end < len(low) && !valueEnds(low[end:]) {
				end++
			}
			if end <= v {
				continue
			}
			b.WriteString(s[last:v])
			b.WriteString(redactedMark)
			last, i = end, end-1
			break
		}
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// skipSeparator returns where the value after a name ending at s[j]
// starts: past quotes, backslashes and spaces, one "=", ":" or "%3d", and
// the same again; -1 when there is no "=" or ":".
func skipSeparator(s string, j int) int {
	for pass := 0; pass < 2; pass++ {
		for j < len(s) {
			if strings.HasPrefix(s[j:], "%22") {
				j += 3
			} else if strings.IndexByte("\"'\\ ", s[j]) >= 0 {
				j++
			} else {
				break
			}
		}
		if pass > 0 {
			break
		}
		switch {
		case strings.HasPrefix(s[j:], "%3d"):
			j += 3
		case j < len(s) && (s[j] == '=' || s[j] == ':'):
			j++
		default:
			return -1
		}
	}
	return j
}

// valueEnds reports whether rest starts with what ends a value.
func valueEnds(rest string) bool {
	return strings.IndexByte("&\"' \t\r\n,;})<>", rest[0]) >= 0 ||
		strings.HasPrefix(rest, "%26") || strings.HasPrefix(rest, "%22") || strings.HasPrefix(rest, `\"`)
}

func isNameChar(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_'
}

// maxPositions bounds the set of positions tracked while matching.
const maxPositions = 16

// longestMatch returns the end of the longest redactable match starting
// at s[i], or i when there is none.
func longestMatch(s string, i int, needles []*needle) int {
	best := i
	var first [4]rune
	firsts := first[:0]
	units(s, i, func(r rune, _ int) {
		firsts = append(firsts, r)
	})
	for _, nd := range needles {
		for fi, r := range firsts {
			if slices.Contains(firsts[:fi], r) {
				continue
			}
			for _, m := range nd.starts[r] {
				if end := matchNeedle(s, i, nd, m); end > best {
					best = end
				}
			}
		}
	}
	return best
}

// matchNeedle matches nd.runes[m:] unit by unit from s[i] and returns the
// end of the longest redactable match, or -1: from m == 0 the whole needle
// or (with fragments) a prefix of >= minFragment runes; from m > 0 a
// suffix of >= minFragment runes, to the needle's end.
func matchNeedle(s string, i int, nd *needle, m int) int {
	n := len(nd.runes)
	var bufA, bufB [maxPositions]int
	pos, spare := append(bufA[:0], i), bufB[:0]
	end := -1
	for k := m; k < n; k++ {
		next := spare[:0]
		for _, p := range pos {
			units(s, p, func(r rune, q int) {
				if r == nd.runes[k] && len(next) < maxPositions && !slices.Contains(next, q) {
					next = append(next, q)
				}
			})
		}
		if len(next) == 0 {
			break
		}
		pos, spare = next, pos
		l := k - m + 1
		if m == 0 && (l == n || nd.fragments && l >= minFragment) || m > 0 && k == n-1 && l >= minFragment {
			end = slices.Max(pos)
		}
	}
	return end
}

// units calls f for every way the text at s[j] can encode one rune: raw,
// "+" for space, a %XX sequence, or a JSON escape. q is where the unit
// ends.
func units(s string, j int, f func(r rune, q int)) {
	if j >= len(s) {
		return
	}
	r, n := utf8.DecodeRuneInString(s[j:])
	f(r, j+n)
	switch s[j] {
	case '+':
		f(' ', j+1)
	case '%':
		if r, q, ok := percentRune(s, j); ok {
			f(r, q)
		}
	case '\\':
		if r, q, ok := jsonEscape(s, j); ok {
			f(r, q)
		}
	}
}

// percentRune decodes one rune written as %XX bytes at s[j].
func percentRune(s string, j int) (rune, int, bool) {
	var buf [utf8.UTFMax]byte
	b0, ok := pctByte(s, j)
	if !ok {
		return 0, 0, false
	}
	buf[0] = b0
	size := 1
	switch {
	case b0 >= 0xF0:
		size = 4
	case b0 >= 0xE0:
		size = 3
	case b0 >= 0xC0:
		size = 2
	}
	q := j + 3
	for k := 1; k < size; k++ {
		c, ok := pctByte(s, q)
		if !ok {
			return 0, 0, false
		}
		buf[k] = c
		q += 3
	}
	r, n := utf8.DecodeRune(buf[:size])
	if n != size || r == utf8.RuneError && size == 1 && b0 >= 0x80 {
		return 0, 0, false
	}
	return r, q, true
}

// pctByte reads "%XX" (hex in either case) at s[j].
func pctByte(s string, j int) (byte, bool) {
	if j+3 > len(s) || s[j] != '%' {
		return 0, false
	}
	v, err := strconv.ParseUint(s[j+1:j+3], 16, 8)
	return byte(v), err == nil
}

// jsonEscape decodes one JSON escape at s[j] (a backslash).
func jsonEscape(s string, j int) (rune, int, bool) {
	if j+1 >= len(s) {
		return 0, 0, false
	}
	if k := strings.IndexByte(`"\/bfnrt`, s[j+1]); k >= 0 {
		return rune("\"\\/\b\f\n\r\t"[k]), j + 2, true
	}
	r, ok := hex4(s, j+2)
	if s[j+1] != 'u' || !ok {
		return 0, 0, false
	}
	if r >= 0xD800 && r < 0xDC00 && j+12 <= len(s) && s[j+6:j+8] == `\u` {
		if lo, ok := hex4(s, j+8); ok && lo >= 0xDC00 && lo < 0xE000 {
			return (r-0xD800)<<10 | (lo - 0xDC00) + 0x10000, j + 12, true
		}
	}
	return r, j + 6, true
}

// hex4 reads four hex digits (either case) at s[j].
func hex4(s string, j int) (rune, bool) {
	if j+4 > len(s) {
		return 0, false
	}
	v, err := strconv.ParseUint(s[j:j+4], 16, 32)
	return rune(v), err == nil
}

// scrubber cleans server-supplied text for an *Error: the secrets of one
// fetch and random-looking words are removed.
type scrubber struct {
	needles []*needle
}

// newScrubber returns a scrubber for secrets.
func newScrubber(secrets []string) scrubber { return scrubber{needles: buildNeedles(secrets)} }

// text removes secrets (redactSecrets), credential values by name
// (redactKeyed) and opaque words (redactOpaque) from the whole of s.
func (sc scrubber) text(s string) string {
	return redactOpaque(redactKeyed(redactNeedles(s, sc.needles)))
}

// line scrubs s whole, cuts it to its first line, turns control
// characters into spaces, scrubs again (in case that joined a secret)
// and caps it to max bytes.
func (sc scrubber) line(s string, max int) string {
	s = sc.text(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return oneLine(sc.text(oneLine(s, len(s))), max)
}

// cause returns err if scrubbing leaves its text unchanged, else an error
// carrying only the scrubbed text (and any context error, for errors.Is).
func (sc scrubber) cause(err error) error {
	if err == nil {
		return nil
	}
	t := err.Error()
	c := sc.text(t)
	if c == t {
		return err
	}
	se := &scrubbedError{msg: c}
	for _, ctxErr := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, ctxErr) {
			se.ctx = ctxErr
		}
	}
	return se
}
