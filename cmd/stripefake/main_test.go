package main

import (
	"testing"

	"github.com/matrix-stripe/matrix-stripe/internal/stripefake"
)

func TestBadFlagsExitTwo(t *testing.T) {
	for _, args := range [][]string{{"-bogus"}, {"-log-level", "loud"}} {
		if code := run(args); code != 2 {
			t.Errorf("run(%v) = %d, want 2", args, code)
		}
	}
}

func TestSeed(t *testing.T) {
	t.Run("default is the embedded demo", func(t *testing.T) {
		srv := stripefake.New(stripefake.Options{})
		defer srv.Close()
		if err := seed(srv, ""); err != nil {
			t.Fatal(err)
		}
		if len(srv.Events()) == 0 {
			t.Fatal("the demo recorded no history")
		}
	})
	t.Run("none is empty", func(t *testing.T) {
		srv := stripefake.New(stripefake.Options{})
		defer srv.Close()
		if err := seed(srv, "none"); err != nil || len(srv.Events()) != 0 {
			t.Fatalf("err=%v events=%d", err, len(srv.Events()))
		}
	})
	t.Run("a file", func(t *testing.T) {
		srv := stripefake.New(stripefake.Options{})
		defer srv.Close()
		if err := seed(srv, "../../internal/stripefake/testdata/basic.yaml"); err != nil {
			t.Fatal(err)
		}
		if err := seed(stripefake.New(stripefake.Options{}), "missing.yaml"); err == nil {
			t.Fatal("a missing scenario file should fail")
		}
	})
}

func TestRunFailsOnBusyPort(t *testing.T) {
	srv := stripefake.New(stripefake.Options{})
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	addr := srv.URL()[len("http://"):]
	if code := run([]string{"-listen", addr, "-scenario", "none", "-log-level", "error"}); code != 1 {
		t.Fatalf("run on a busy port = %d, want 1", code)
	}
}
