/* Checks (gccgo): goroutines on split stacks, with signals arriving
   while they cross segments.

   1. 1000 goroutines each recurse through 256 KiB (256 frames of about
      1 KiB: several segments beyond the first), check a value computed
      on the way down against the closed form, and park on a channel; all
      are parked at once, then released.
   2. While 8 goroutines recurse up and down through 512 KiB in a loop,
      the program sends itself SIGUSR1 200 times (os/signal delivers them
      on a channel) and records a CPU profile (runtime/pprof, SIGPROF), so
      that signals arrive while goroutines are on new segments or inside
      __morestack.  Every recursion result is checked; the profile must
      hold samples and SIGUSR1 must have been received.
   Prints "go goroutines ok".  */
package main

import (
	"bytes"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// touch keeps buf in the caller's frame (its address is taken; it does
// not escape).
//
//go:noinline
func touch(b *[1000]byte, n int) int {
	b[n%1000] = byte(n)
	return int(b[n%1000])
}

//go:noinline
func deep(n int) int {
	var buf [1000]byte
	if touch(&buf, n) != n&0xff {
		return -1 << 40
	}
	if n == 0 {
		return 0
	}
	// buf must still hold what touch stored once the deeper levels,
	// on other segments, returned.
	return deep(n-1) + n + int(buf[n%1000]) - n&0xff
}

// want is deep(n): the sum 1..n.
func want(n int) int { return n * (n + 1) / 2 }

var failures int64

func fail(format string, a ...interface{}) {
	atomic.AddInt64(&failures, 1)
	fmt.Fprintf(os.Stderr, format+"\n", a...)
}

func parked() {
	const n, depth = 1000, 256
	var ready, done sync.WaitGroup
	release := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			defer done.Done()
			d := depth - i%8
			if got := deep(d); got != want(d) {
				fail("goroutine %d: deep(%d) = %d, want %d", i, d, got, want(d))
			}
			ready.Done()
			<-release
			if got := deep(d / 2); got != want(d/2) {
				fail("goroutine %d after parking: deep(%d) = %d", i, d/2, got)
			}
		}(i)
	}
	ready.Wait()
	close(release)
	done.Wait()
}

func signals() {
	usr := make(chan os.Signal, 64)
	signal.Notify(usr, syscall.SIGUSR1)
	var got int64
	stopRecv := make(chan struct{})
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		for {
			select {
			case <-usr:
				atomic.AddInt64(&got, 1)
			case <-stopRecv:
				return
			}
		}
	}()
	// What a profile without samples weighs: started and stopped at
	// once (about 460 bytes here; with samples it is several KiB).
	var empty bytes.Buffer
	if err := pprof.StartCPUProfile(&empty); err != nil {
		fail("StartCPUProfile: %v", err)
	}
	pprof.StopCPUProfile()
	var prof bytes.Buffer
	if err := pprof.StartCPUProfile(&prof); err != nil {
		fail("StartCPUProfile: %v", err)
	}
	stop := make(chan struct{})
	var workers sync.WaitGroup
	var rounds int64
	for w := 0; w < 8; w++ {
		workers.Add(1)
		go func(w int) {
			defer workers.Done()
			for r := 0; ; r++ {
				select {
				case <-stop:
					return
				default:
				}
				d := 64 + (r*37+w*101)%448
				if g := deep(d); g != want(d) {
					fail("worker %d: deep(%d) = %d, want %d", w, d, g, want(d))
				}
				atomic.AddInt64(&rounds, 1)
			}
		}(w)
	}
	for i := 0; i < 200; i++ {
		syscall.Kill(os.Getpid(), syscall.SIGUSR1)
		time.Sleep(time.Millisecond)
	}
	// Keep the workers running until they have recursed enough for the
	// profile to have had time to sample them.
	for atomic.LoadInt64(&rounds) < 2000 {
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	workers.Wait()
	pprof.StopCPUProfile()
	// Signals may be coalesced, but some must arrive.
	for i := 0; i < 200 && atomic.LoadInt64(&got) == 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	close(stopRecv)
	<-recvDone
	signal.Stop(usr)
	if atomic.LoadInt64(&got) == 0 {
		fail("no SIGUSR1 received")
	}
	if prof.Len() < empty.Len()+1024 {
		fail("CPU profile without samples: %d bytes (%d without any)", prof.Len(), empty.Len())
	}
}

func main() {
	parked()
	signals()
	if failures != 0 {
		fmt.Printf("go goroutines FAILED: %d failures\n", failures)
		os.Exit(1)
	}
	fmt.Println("go goroutines ok")
}
