package entra

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// readmeImports are the packages README snippets may use, by the name
// they are used under. A snippet using another package fails to compile:
// add it here.
var readmeImports = map[string]string{
	"bearer":    "github.com/entrakit/entra/bearer",
	"context":   "context",
	"entra":     "github.com/entrakit/entra",
	"entratest": "github.com/entrakit/entra/entratest",
	"errors":    "errors",
	"fmt":       "fmt",
	"http":      "net/http",
	"oauth2":    "golang.org/x/oauth2",
	"os":        "os",
	"slog":      "log/slog",
	"store":     "github.com/entrakit/entra/store",
	"time":      "time",
}

// readmeFreeVars are the variables snippets may use without declaring.
const readmeFreeVars = "ctx context.Context, t *testing.T, tenantID, clientID, secret string"

var readmeGoBlock = regexp.MustCompile("(?s)```go\n(.*?)```")

// readmeSnippets returns the body of every ```go block of README.md.
func readmeSnippets(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range readmeGoBlock.FindAllStringSubmatch(string(b), -1) {
		if strings.Contains(m[1], "redisstore.") {
			continue // compiled by store/redis's readme test, in the module that has go-redis
		}
		out = append(out, m[1])
	}
	return out
}

// readmeFunc wraps one snippet into a function over the free variables,
// marking every variable it declares as used, and returns the function
// with the package names it uses.
func readmeFunc(i int, snippet string) (string, []string, error) {
	body := fmt.Sprintf("func snippet%d(%s) error {\n%s\n", i, readmeFreeVars, snippet)
	f, err := parser.ParseFile(token.NewFileSet(), "", "package p\n"+body+"return nil\n}\n", 0)
	if err != nil {
		return "", nil, fmt.Errorf("README go block %d does not parse: %v", i+1, err)
	}
	var declared, pkgs []string
	var lits []ast.Node // function literals: their variables are not in scope at the end
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			lits = append(lits, n)
		case *ast.AssignStmt:
			inLit := slices.ContainsFunc(lits, func(l ast.Node) bool { return l.Pos() <= n.Pos() && n.End() <= l.End() })
			if n.Tok == token.DEFINE && !inLit {
				for _, l := range n.Lhs {
					if id, ok := l.(*ast.Ident); ok && id.Name != "_" && !slices.Contains(declared, id.Name) {
						declared = append(declared, id.Name)
					}
				}
			}
		case *ast.SelectorExpr:
			if id, ok := n.X.(*ast.Ident); ok && readmeImports[id.Name] != "" && !slices.Contains(pkgs, id.Name) {
				pkgs = append(pkgs, id.Name)
			}
		}
		return true
	})
	for _, v := range declared {
		body += "_ = " + v + "\n"
	}
	return body + "return nil\n}\n", pkgs, nil
}

// TestReadmeSnippetsCompile keeps every ```go block of README.md true: each
// becomes a function of a throwaway main package inside this module (so
// nothing is fetched), which must pass go vet.
func TestReadmeSnippetsCompile(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	snippets := readmeSnippets(t)
	if len(snippets) < 3 {
		t.Fatalf("found %d go blocks in README.md, want the quick start, clouds and emulator ones at least", len(snippets))
	}
	pkgs := []string{"context", "testing"}
	var funcs strings.Builder
	for i, s := range snippets {
		fn, used, err := readmeFunc(i, s)
		if err != nil {
			t.Fatal(err)
		}
		funcs.WriteString(fn)
		for _, p := range used {
			if !slices.Contains(pkgs, p) {
				pkgs = append(pkgs, p)
			}
		}
	}
	var src strings.Builder
	src.WriteString("// Code generated from README.md by TestReadmeSnippetsCompile. DO NOT EDIT.\n\npackage main\n\nimport (\n")
	for _, p := range pkgs {
		path := readmeImports[p]
		if path == "" {
			path = p
		}
		fmt.Fprintf(&src, "\t%q\n", path)
	}
	src.WriteString(")\n\nfunc main() {}\n\n" + funcs.String())

	// A directory starting with "_" is ignored by ./... patterns, so a
	// concurrent go test ./... never sees it.
	dir, err := os.MkdirTemp(".", "_readme")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	file := filepath.Join(dir, "main.go")
	if err := os.WriteFile(file, []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "vet", "./"+filepath.ToSlash(dir))
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "GOPROXY=off", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("README.md's go blocks do not compile (%v):\n%s\ngenerated program:\n%s", err, out, readmeNumbered(src.String()))
	}
}

// readmeNumbered prefixes each line of s with its number, for error messages.
func readmeNumbered(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = fmt.Sprintf("%3d  %s", i+1, l)
	}
	return strings.Join(lines, "\n")
}

// TestReadmeFreshMachine keeps the README's "Set up on a fresh machine"
// commands, which CI runs verbatim, and the install line.
func TestReadmeFreshMachine(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, "## Set up on a fresh machine")
	if i < 0 {
		t.Fatal(`README.md has no "Set up on a fresh machine" section`)
	}
	section := readme[i:]
	if j := strings.Index(section[3:], "\n## "); j >= 0 {
		section = section[:j+3]
	}
	for _, cmd := range []string{"\ngo run ./cmd/entra demo ", "\ngo test -race ./... "} {
		if !strings.Contains(section, cmd) {
			t.Errorf("the fresh-machine block lacks %q", strings.TrimSpace(cmd))
		}
	}
	if !strings.Contains(readme, "## Install\n\n```sh\ngo get github.com/entrakit/entra\n```") {
		t.Error(`README.md lacks the "Install" section with go get github.com/entrakit/entra`)
	}
}

// TestReadmeQuickStartOptions: the quick start's api:// scope works with
// the Options it shows (no configuration error), and needs them.
func TestReadmeQuickStartOptions(t *testing.T) {
	rt := &scopeCountingRT{}
	for _, tt := range []struct {
		name       string
		opts       *Options
		wantConfig bool
	}{
		{"without AllowedHosts", &Options{HTTPClient: &http.Client{Transport: rt}}, true},
		{"as in the README", &Options{HTTPClient: &http.Client{Transport: rt}, AllowedHosts: []string{"my-api.example.com"}}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cred, err := NewClientSecretCredential("contoso.onmicrosoft.com", "client", "secret", tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			_, err = cred.Client(t.Context(), "api://my-api/.default").Get("https://my-api.example.com/orders")
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want an *Error (there is no network here)", err)
			}
			if got := e.Op == "config"; got != tt.wantConfig {
				t.Errorf("got %v; want a configuration error: %v", err, tt.wantConfig)
			}
		})
	}
}
