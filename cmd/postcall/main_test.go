package main

import (
	"os"
	"testing"
)

// childEnv makes the test binary run postcall's main instead of the tests,
// so tests can run the real command as a subprocess without building it.
const childEnv = "POSTCALL_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
