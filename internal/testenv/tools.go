package testenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const (
	modulePath = "github.com/matrix-stripe/matrix-stripe"
	// ToolsEnv names the environment variable that points ToolsDir at
	// binaries managed outside the repository (CI images, packagers).
	ToolsEnv = "MATRIX_STRIPE_TOOLS"
)

// RepoRoot walks up from the working directory to the folder whose go.mod
// declares this module. Tests run with the package folder as working
// directory, so this is how they find the shared .tools and scripts.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isModuleRoot(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("testenv: no go.mod for module %s above the working directory", modulePath)
		}
		dir = parent
	}
}

func isModuleRoot(goMod string) bool {
	data, err := os.ReadFile(goMod)
	if err != nil {
		return false
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "module"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			return strings.Trim(strings.TrimSpace(rest), `"`) == modulePath
		}
	}
	return false
}

// ToolsDir returns the folder holding the test-peer binaries: $MATRIX_STRIPE_TOOLS
// if set, else <repo root>/.tools/bin.
func ToolsDir() (string, error) {
	if dir := os.Getenv(ToolsEnv); dir != "" {
		return filepath.Abs(dir)
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, ".tools", "bin"), nil
}

// toolPath returns the path of an installed tool, or an error that says how to
// install it.
func toolPath(name string) (string, error) {
	dir, err := ToolsDir()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	info, err := os.Stat(path)
	if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
		return "", fmt.Errorf("testenv: %s is not installed in %s (run scripts/install-tools.sh or testenv.EnsureTools)", name, dir)
	}
	return path, nil
}

// EnsureTools runs scripts/install-tools.sh, which installs whichever pinned
// peer is missing (minutes the first time, instant afterwards). It holds a
// file lock meanwhile, because `go test ./...` starts several test binaries
// at once and parallel `go install`s into one folder trip over each other.
//
// With $MATRIX_STRIPE_TOOLS set the binaries are managed elsewhere, so it only
// checks that they are there.
func EnsureTools(ctx context.Context) error {
	if os.Getenv(ToolsEnv) != "" {
		var errs []error
		for _, name := range []string{dendriteBinary, stripeMockBinary} {
			if _, err := toolPath(name); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(root, ".tools"), 0o755); err != nil {
		return err
	}
	unlock, err := lockFile(ctx, filepath.Join(root, ".tools", "install.lock"))
	if err != nil {
		return fmt.Errorf("testenv: lock tools folder: %w", err)
	}
	defer unlock()

	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "scripts", "install-tools.sh"))
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("testenv: scripts/install-tools.sh: %w\n%s", err, lastLines(out, 40))
	}
	return nil
}
