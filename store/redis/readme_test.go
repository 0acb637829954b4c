package redisstore_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readmeRedisImports are the packages the README's Redis snippets may use.
var readmeRedisImports = map[string]string{
	"entra":      "github.com/entrakit/entra",
	"store":      "github.com/entrakit/entra/store",
	"redisstore": "github.com/entrakit/entra/store/redis",
	"redis":      "github.com/redis/go-redis/v9",
	"os":         "os",
	"time":       "time",
	"context":    "context",
}

var (
	readmeGoBlock = regexp.MustCompile("(?s)```go\n(.*?)```")
	readmeDefine  = regexp.MustCompile(`(?m)^\s*([A-Za-z_][A-Za-z0-9_]*)(?:\s*,\s*([A-Za-z_][A-Za-z0-9_]*))?\s*:=`)
)

// TestReadmeRedisSnippetsCompile: README.md's go blocks that use
// redisstore compile here, in the module that has go-redis (the root's
// readme test leaves them out).
func TestReadmeRedisSnippetsCompile(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var funcs strings.Builder
	used := map[string]bool{"context": true}
	n := 0
	for _, m := range readmeGoBlock.FindAllStringSubmatch(string(b), -1) {
		if !strings.Contains(m[1], "redisstore.") {
			continue
		}
		fmt.Fprintf(&funcs, "func snippet%d(ctx context.Context, tenantID, clientID, secret string) error {\n%s\n", n, m[1])
		seen := map[string]bool{}
		for _, d := range readmeDefine.FindAllStringSubmatch(m[1], -1) {
			for _, v := range d[1:] {
				if v != "" && v != "_" && !seen[v] {
					seen[v] = true
					fmt.Fprintf(&funcs, "_ = %s\n", v)
				}
			}
		}
		funcs.WriteString("return nil\n}\n\n")
		for name := range readmeRedisImports {
			if strings.Contains(m[1], name+".") {
				used[name] = true
			}
		}
		n++
	}
	if n == 0 {
		t.Skip("README.md has no go block using redisstore yet")
	}
	var src strings.Builder
	src.WriteString("package main\n\nimport (\n")
	for name := range used {
		fmt.Fprintf(&src, "\t%q\n", readmeRedisImports[name])
	}
	src.WriteString(")\n\nfunc main() {}\n\n" + funcs.String())
	dir, err := os.MkdirTemp(".", "_readme")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "vet", "./"+filepath.ToSlash(dir))
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("README.md's redisstore blocks do not compile (%v):\n%s\n%s", err, out, src.String())
	}
}
