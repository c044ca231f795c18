package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSimCommand runs reimage sim -fleet on the mixed example: the first stdout line is the base
// URL, then the credentials; the fleet is the plan's, running on older images; cancelling (what
// SIGINT does) stops it cleanly.
func TestSimCommand(t *testing.T) {
	t.Setenv("KSYUN_ACCESS_KEY", "AKLTfromenv")
	t.Setenv("KSYUN_SECRET_KEY", "secretfromenv")
	t.Setenv("HUAWEICLOUD_SDK_AK", "")
	t.Setenv("HUAWEICLOUD_SDK_SK", "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	var stderr strings.Builder
	go func() {
		done <- SimCommand{}.Run(ctx, []string{"-listen", "127.0.0.1:0", "-fleet", filepath.Join(repoRoot, "examples", "mixed-fleet.yaml"), "-stopped", "0.5"},
			Stdio{Out: outW, Err: &stderr})
		outW.Close()
	}()
	lines := bufio.NewScanner(outR)
	var out []string
	for len(out) < 6 && lines.Scan() {
		out = append(out, lines.Text())
	}
	go io.Copy(io.Discard, outR)
	if len(out) < 6 || !strings.HasPrefix(out[0], "http://127.0.0.1:") {
		t.Fatalf("stdout: %q", out)
	}
	if out[1] != "KSYUN_ACCESS_KEY=AKLTfromenv" || out[2] != "KSYUN_SECRET_KEY=secretfromenv" ||
		!strings.HasPrefix(out[3], "HUAWEICLOUD_SDK_AK=") || len(out[3]) < len("HUAWEICLOUD_SDK_AK=")+8 ||
		out[5] != "HUAWEICLOUD_SDK_PROJECT_ID=0b4dfa4c3a0f4e3f9d8e1f2a3b4c5d6e" {
		t.Fatalf("credentials: %q", out)
	}
	res, err := http.Get(out[0] + "/_sim/instances")
	if err != nil {
		t.Fatal(err)
	}
	var insts []struct{ Provider, ID, Image, State string }
	err = json.NewDecoder(res.Body).Decode(&insts)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]int{}
	for _, in := range insts {
		states[in.Provider+"/"+in.State]++
	}
	if len(insts) != 67 || states["ksyun/stopped"] == 0 || states["ksyun/active"] == 0 || states["huaweicloud/SHUTOFF"] == 0 || states["huaweicloud/ACTIVE"] == 0 {
		t.Fatalf("%d instances, states %v", len(insts), states)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reimage sim did not stop")
	}
	if !strings.Contains(stderr.String(), "reimage sim: stopped") {
		t.Errorf("stderr: %s", stderr.String())
	}
}

// TestSimCommandSIGTERM: a real SIGTERM (sent to this process once the simulator listens, when
// only its handler is registered) stops reimage sim cleanly, with a nil error.
func TestSimCommandSIGTERM(t *testing.T) {
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	var stderr strings.Builder
	go func() {
		done <- SimCommand{}.Run(context.Background(), []string{"-listen", "127.0.0.1:0", "-instances", "10"}, Stdio{Out: outW, Err: &stderr})
		outW.Close()
	}()
	first, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil || !strings.HasPrefix(first, "http://127.0.0.1:") {
		t.Fatalf("first line %q, %v", first, err)
	}
	go io.Copy(io.Discard, outR)
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reimage sim did not stop on SIGTERM")
	}
	if _, err := http.Get(strings.TrimSpace(first) + "/_sim/stats"); err == nil {
		t.Error("still serving after SIGTERM")
	}
}

// TestSimFaultFlagsRefused: each malformed fault flag of reimage sim is a usage error naming it,
// before anything listens.
func TestSimFaultFlagsRefused(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-lose-answer-rate", "1.5"}, "-lose-answer-rate must be a fraction"},
		{[]string{"-gateway-502-rate", "-0.1"}, "-gateway-502-rate must be a fraction"},
		{[]string{"-queue-rate", "2"}, "-queue-rate must be a fraction"},
		{[]string{"-fault-ops", "stop,reboot"}, `-fault-ops: "reboot" is not one of`},
		{[]string{"-queue-ids", "i-1"}, "-queue-rate and -queue-ids need -queue-time"},
		{[]string{"-queue-time", "-1s"}, "cannot be negative"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			args := append([]string{"-listen", "127.0.0.1:0", "-instances", "2"}, tc.args...)
			var out, errOut strings.Builder
			err := SimCommand{}.Run(context.Background(), args, Stdio{Out: &out, Err: &errOut})
			var ue *UsageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want a usage error containing %q", err, tc.want)
			}
			if out.Len() != 0 {
				t.Fatalf("stdout %q: nothing may start", out.String())
			}
		})
	}
}
