package proc

import (
	"os"
	"testing"
	"time"
)

func TestStartAliveStop(t *testing.T) {
	dir := t.TempDir()
	pid, err := Start(Spec{Name: "sleeper", Dir: dir, Argv: []string{"sleep", "30"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := Alive(dir, "sleeper"); !ok || got != pid {
		t.Fatalf("Alive = %d %v, want %d", got, ok, pid)
	}
	if _, err := Start(Spec{Name: "sleeper", Dir: dir, Argv: []string{"sleep", "30"}}); err == nil {
		t.Error("a second Start of a running process must fail")
	}
	if err := Stop(dir, "sleeper", time.Second); err != nil {
		t.Fatal(err)
	}
	if _, ok := Alive(dir, "sleeper"); ok {
		t.Error("still alive after Stop")
	}
	if err := Stop(dir, "sleeper", time.Second); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestStopEscalatesToKill(t *testing.T) {
	dir := t.TempDir()
	if _, err := Start(Spec{Name: "stubborn", Dir: dir, Argv: []string{"sh", "-c", "trap '' TERM; sleep 30"}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if err := Stop(dir, "stubborn", 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, ok := Alive(dir, "stubborn"); ok {
		t.Error("still alive")
	}
	if b, _ := os.ReadFile(LogFile(dir, "stubborn")); b == nil {
		t.Log("no output, as expected")
	}
}
