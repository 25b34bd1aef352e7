// Go workloads of `cargo xtask bench --go` (docs/gccgo.md).  The same
// source is built by every toolchain compared: split-stack gccgo (this
// project), fixed-stack gccgo (the same compiler, libgo without split
// stacks), Debian's stock gccgo and Go's own toolchain.  It prints
// key=value lines, as the C workloads of bench/cases do.
//
//	goroutines park N DEPTH_KIB [at]
//	    Starts N goroutines; each recurses through DEPTH_KIB frames of
//	    at least 1 KiB (1000-byte local array), returns, and then blocks
//	    receiving from a channel that is closed once all are parked (with
//	    "at": blocks at the bottom of the recursion instead, holding it).  Prints the
//	    memory figures at start (start_*) and with all N parked
//	    (parked_*), the time to create and park them (create_ns), then
//	    releases them and prints done=N once every goroutine returned.
//	goroutines hotsplit POSITIONS CALLS [memset]
//	    In one goroutine, for each depth k < POSITIONS (frames of 16 to
//	    32 bytes), calls a leaf function with a 64-byte array CALLS times
//	    in a loop and times the loop.  With split stacks the depths that
//	    put the loop just above a segment boundary make every call cross.
//	    Prints the slowest depth (hot_worst_depth: of the 10 slowest
//	    single timings, the one whose least of three more timings is
//	    largest), that time per call (hot_worst_ns), and the median
//	    time per call over all depths (hot_median_ns); nanoseconds.  The
//	    program cannot see segments (gccgo moves an array whose address
//	    is taken as a uintptr to the heap): `cargo xtask bench --go`
//	    judges the worst depth by its time.  With "memset" the leaf's
//	    array is 512 bytes, which gccgo zeroes by calling the C library's
//	    memset: a split-stack function that calls code without
//	    split-stack checks.
//	goroutines pingpong ROUNDS
//	    Two goroutines pass a token ROUNDS times over unbuffered channels;
//	    pingpong_ns is nanoseconds per round trip.
//
// Memory figures: *_rss_kib and *_vm_kib are VmRSS and VmSize of
// /proc/self/status (under qemu-user those of the qemu process, which
// include qemu's bookkeeping of guest pages); *_anon_kib counts the
// resident pages of the private read-write anonymous mappings with
// mincore over /proc/self/maps (under qemu-user the guest's own memory);
// *_maps_kib is the size of those mappings (the guest's address space in
// them).
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

var sink int

// touch keeps buf in the caller's frame (its address is taken; it does
// not escape).
//
//go:noinline
func touch(b *[1000]byte, n int) int {
	b[n%1000] = byte(n)
	return int(b[(n*7)%1000])
}

//go:noinline
func recurse(n int) int {
	var buf [1000]byte
	s := touch(&buf, n)
	if n <= 1 {
		return s
	}
	return recurse(n-1) + int(buf[(n*3)%1000])
}

// recurseParked is recurse that parks at the bottom.
//
//go:noinline
func recurseParked(n int, parked *sync.WaitGroup, release chan struct{}) int {
	var buf [1000]byte
	s := touch(&buf, n)
	if n <= 1 {
		parked.Done()
		<-release
		return s
	}
	return recurseParked(n-1, parked, release) + int(buf[(n*3)%1000])
}

// anon returns the resident and the mapped KiB of the private read-write
// anonymous mappings.
func anon() (resident, mapped int64) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return -1, -1
	}
	defer f.Close()
	page := int64(os.Getpagesize())
	vec := make([]byte, 1<<16)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || fields[4] != "0" || len(fields) > 6 {
			continue
		}
		if len(fields) == 6 && !strings.HasPrefix(fields[5], "[") {
			continue
		}
		perms := fields[1]
		if len(perms) < 4 || perms[0] != 'r' || perms[1] != 'w' || perms[3] != 'p' {
			continue
		}
		r := strings.SplitN(fields[0], "-", 2)
		lo, err1 := strconv.ParseUint(r[0], 16, 64)
		hi, err2 := strconv.ParseUint(r[1], 16, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		mapped += int64(hi-lo) / 1024
		for a := lo; a < hi; {
			k := (hi - a) / uint64(page)
			if k > uint64(len(vec)) {
				k = uint64(len(vec))
			}
			_, _, e := syscall.Syscall(syscall.SYS_MINCORE, uintptr(a),
				uintptr(k*uint64(page)), uintptr(unsafe.Pointer(&vec[0])))
			if e == 0 {
				for i := uint64(0); i < k; i++ {
					resident += int64(vec[i] & 1)
				}
			}
			a += k * uint64(page)
		}
	}
	return resident * page / 1024, mapped
}

func status(phase string) {
	rss, vm := int64(-1), int64(-1)
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) >= 2 && f[0] == "VmRSS:" {
				rss, _ = strconv.ParseInt(f[1], 10, 64)
			}
			if len(f) >= 2 && f[0] == "VmSize:" {
				vm, _ = strconv.ParseInt(f[1], 10, 64)
			}
		}
	}
	res, mapped := anon()
	fmt.Printf("%s_rss_kib=%d\n%s_vm_kib=%d\n%s_anon_kib=%d\n%s_maps_kib=%d\n",
		phase, rss, phase, vm, phase, res, phase, mapped)
}

func park(n, depth int, at bool) {
	runtime.GC()
	status("start")
	release := make(chan struct{})
	var parked, done sync.WaitGroup
	parked.Add(n)
	done.Add(n)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go func() {
			if at {
				if recurseParked(depth, &parked, release) < 0 {
					panic("unreachable")
				}
			} else {
				if depth > 0 && recurse(depth) < 0 {
					panic("unreachable")
				}
				parked.Done()
				<-release
			}
			done.Done()
		}()
	}
	parked.Wait()
	fmt.Printf("create_ns=%d\n", time.Since(t0).Nanoseconds())
	runtime.GC()
	status("parked")
	close(release)
	done.Wait()
	fmt.Printf("done=%d\n", n)
}

//go:noinline
func leaf(i int) int {
	var buf [8]int
	buf[i&7] = i
	return buf[(i*3)&7]
}

//go:noinline
func leafMemset(i int) int {
	var buf [512]byte
	buf[i&511] = byte(i)
	return int(buf[(i*3)&511])
}

//go:noinline
func loop(calls int, f func(int) int) time.Duration {
	t0 := time.Now()
	s := 0
	for i := 0; i < calls; i++ {
		s += f(i)
	}
	sink += s
	return time.Since(t0)
}

//go:noinline
func descend(k, calls int, f func(int) int) time.Duration {
	if k == 0 {
		return loop(calls, f)
	}
	return descend(k-1, calls, f) + 1
}

func hotsplit(positions, calls int, f func(int) int) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		ts := make([]time.Duration, positions)
		for k := range ts {
			ts[k] = descend(k, calls, f)
		}
		// The slowest depth: of the 10 slowest single timings, the one
		// whose least of 3 more timings is the largest, so that a
		// timing the host's scheduler stretched once does not hide a
		// depth that is slow every time.
		order := make([]int, positions)
		for k := range order {
			order[k] = k
		}
		sort.Slice(order, func(a, b int) bool { return ts[order[a]] > ts[order[b]] })
		worst, best := 0, time.Duration(-1)
		if len(order) > 10 {
			order = order[:10]
		}
		for _, k := range order {
			least := ts[k]
			for r := 0; r < 3; r++ {
				if t := descend(k, calls, f); t < least {
					least = t
				}
			}
			if least > best {
				worst, best = k, least
			}
		}
		sorted := append([]time.Duration(nil), ts...)
		sort.Slice(sorted, func(a, b int) bool { return sorted[a] < sorted[b] })
		fmt.Printf("hot_worst_ns=%.2f\nhot_worst_depth=%d\nhot_median_ns=%.2f\n",
			float64(best)/float64(calls), worst,
			float64(sorted[len(sorted)/2])/float64(calls))
	}()
	<-done
}

func pingpong(rounds int) {
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
		close(pong)
	}()
	t0 := time.Now()
	v := 0
	for i := 0; i < rounds; i++ {
		ping <- v
		v = <-pong
	}
	d := time.Since(t0)
	close(ping)
	if v != rounds {
		fmt.Fprintf(os.Stderr, "pingpong: token %d after %d rounds\n", v, rounds)
		os.Exit(1)
	}
	fmt.Printf("pingpong_ns=%.2f\n", float64(d.Nanoseconds())/float64(rounds))
}

func atoi(s string) int {
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		fmt.Fprintf(os.Stderr, "goroutines: %q is not a count\n", s)
		os.Exit(2)
	}
	return v
}

func main() {
	a := os.Args
	switch {
	case len(a) == 4 && a[1] == "park":
		park(atoi(a[2]), atoi(a[3]), false)
	case len(a) == 5 && a[1] == "park" && a[4] == "at":
		park(atoi(a[2]), atoi(a[3]), true)
	case len(a) == 4 && a[1] == "hotsplit":
		hotsplit(atoi(a[2]), atoi(a[3]), leaf)
	case len(a) == 5 && a[1] == "hotsplit" && a[4] == "memset":
		hotsplit(atoi(a[2]), atoi(a[3]), leafMemset)
	case len(a) == 3 && a[1] == "pingpong":
		pingpong(atoi(a[2]))
	default:
		fmt.Fprintln(os.Stderr, "usage: goroutines park N DEPTH_KIB [at] | hotsplit POSITIONS CALLS [memset] | pingpong ROUNDS")
		os.Exit(2)
	}
}
