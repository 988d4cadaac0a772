package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/postcall/postcall/conf"
	"github.com/postcall/postcall/daemon"
)

// stopWait bounds how long a stopped daemon may take to exit: the daemon's
// own shutdown timeout (10s) plus a margin for closing the spool.
const stopWait = 30 * time.Second

// runningDaemon is a daemon the harness started and must stop.
type runningDaemon interface {
	// pid returns the process to sample, or 0 when it is this process.
	pid() int
	prober() Prober
	// exited is closed when the daemon has stopped on its own or by stop.
	exited() <-chan struct{}
	stop() error
}

// processDaemon is `postcall run` as a child process.
type processDaemon struct {
	cmd   *exec.Cmd
	probe Prober
	done  chan struct{}
	err   error // the exit error, set before done is closed
}

// startProcess starts `binary run -config mainFile` with its output to out.
func startProcess(binary, mainFile, adminAddr string, out io.Writer) (*processDaemon, error) {
	cmd := exec.Command(binary, "run", "-config", mainFile)
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w; pass the path of a built postcall binary with -postcall", binary, err)
	}
	p := &processDaemon{cmd: cmd, done: make(chan struct{})}
	if adminAddr != "" {
		p.probe = NewHTTPProber(adminAddr)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *processDaemon) pid() int       { return p.cmd.Process.Pid }
func (p *processDaemon) prober() Prober { return p.probe }

func (p *processDaemon) exited() <-chan struct{} { return p.done }

// stop sends SIGTERM, as an operator would, and waits for the exit. A
// process that does not exit within stopWait is killed.
func (p *processDaemon) stop() error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop postcall (pid %d): %w", p.pid(), err)
	}
	select {
	case <-p.done:
		var exit *exec.ExitError
		if errors.As(p.err, &exit) {
			return fmt.Errorf("postcall (pid %d) exited with %w; see its log", p.pid(), p.err)
		}
		return p.err
	case <-time.After(stopWait):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("postcall (pid %d) did not exit within %s of SIGTERM and was killed", p.pid(), stopWait)
	}
}

// inProcessDaemon is a daemon.Daemon running in this process. Its
// goroutines carry the profiler label part=postcall, so a CPU profile of
// the harness can be split by part.
type inProcessDaemon struct {
	d      *daemon.Daemon
	cancel context.CancelFunc
	done   chan struct{}
	err    error // the error of Run, set before done is closed
}

// startInProcess loads mainFile and runs the daemon it describes, logging
// to out.
func startInProcess(mainFile string, out io.Writer) (*inProcessDaemon, error) {
	cfg, err := conf.Load(mainFile)
	if err != nil {
		return nil, err
	}
	log := logrus.New()
	log.SetOutput(out)
	level, err := logrus.ParseLevel(cfg.Main.Log.Level)
	if err != nil {
		return nil, fmt.Errorf("%s: [log] level: %w", mainFile, err)
	}
	log.SetLevel(level)
	ctx, cancel := context.WithCancel(context.Background())
	p := &inProcessDaemon{cancel: cancel, done: make(chan struct{})}
	// New starts goroutines of its own (the spool's writers), so it runs
	// under the label too.
	pprof.Do(ctx, pprof.Labels("part", "postcall"), func(ctx context.Context) {
		p.d, err = daemon.New(cfg, daemon.Options{Logger: log, Version: "load"})
		if err != nil {
			return
		}
		go func() {
			p.err = p.d.Run(ctx)
			close(p.done)
		}()
	})
	if err != nil {
		cancel()
		return nil, err
	}
	return p, nil
}

func (p *inProcessDaemon) pid() int                { return 0 }
func (p *inProcessDaemon) prober() Prober          { return DaemonProber{D: p.d} }
func (p *inProcessDaemon) exited() <-chan struct{} { return p.done }

func (p *inProcessDaemon) stop() error {
	p.cancel()
	select {
	case <-p.done:
		return p.err
	case <-time.After(stopWait):
		return fmt.Errorf("the in-process daemon did not stop within %s", stopWait)
	}
}
