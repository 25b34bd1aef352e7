/* Checks (gccgo): goroutines start on small split stacks, not on
   libgo's fixed 4 MiB stacks (libgo/runtime/proc.c: StackMin is
   PTHREAD_STACK_MIN only when libgo was built with USING_SPLIT_STACK and
   LINKER_SUPPORTS_SPLIT_STACK).

   Parks 2000 goroutines and measures, from /proc/self/maps, the address
   space of the private read-write anonymous mappings and (mincore) their
   resident pages.  Per goroutine, the address space must stay below
   2 MiB (a first segment of PTHREAD_STACK_MIN plus the 1 MiB reserve of
   a __splitstack_makecontext context, docs/abi.md 5.9; fixed stacks take
   4 MiB) and the resident memory below 16 KiB (a parked goroutine that
   touched one page of its stack; libgo's G with glibc's ucontext_t, as
   in Debian's gccgo and before patches/gcc/0013, makes 14.2 KiB, the
   register-only context of patches/gcc/0013 5.2 KiB; a limit of 8 KiB
   was tried and withdrawn: 2 of about 8 runs inside the conformance
   harness measured 14.3 KiB and 1186 KiB of address space with the
   patched libgo on 2026-12-08, and none of about 50 runs since, in the
   harness or not, under load or in the root filesystem; docs/gccgo.md).
   The goroutines then recurse through 256 KiB each, which needs more
   segments, and all must return the right value.  Prints
   "go small goroutines ok", and on stderr, which the report shows, the
   figures per goroutine with the Go heap in use (runtime.MemStats), the
   collections while they were created and parked and the threads then,
   so that a run that measures more says where it went.  */
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unsafe"
)

const n = 2000

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

//go:noinline
func touch(b *[1000]byte, k int) int {
	b[k%1000] = byte(k)
	return int(b[k%1000])
}

//go:noinline
func deep(k int) int {
	var buf [1000]byte
	if touch(&buf, k) != k&0xff {
		return -1 << 40
	}
	if k == 0 {
		return 0
	}
	return deep(k-1) + k + int(buf[k%1000]) - k&0xff
}

// threads returns the number of threads in /proc/self/task: the
// program's OS threads and, under qemu-user, which answers with its own
// task list, qemu's helper threads too.
func threads() int {
	d, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return -1
	}
	return len(d)
}

func main() {
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	res0, map0 := anon()
	var ready, done sync.WaitGroup
	release := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	wrong := make(chan int, n)
	for i := 0; i < n; i++ {
		go func() {
			defer done.Done()
			ready.Done()
			<-release
			if deep(256) != 256*257/2 {
				wrong <- 1
			}
		}()
	}
	ready.Wait()
	res1, map1 := anon()
	runtime.ReadMemStats(&ms1)
	t1 := threads()
	close(release)
	done.Wait()
	vaPer := float64(map1-map0) / n
	resPer := float64(res1-res0) / n
	fmt.Fprintf(os.Stderr, "per goroutine: %.1f KiB address space, %.1f KiB resident, %.1f KiB of Go heap in use; %d GC cycles, %d threads\n",
		vaPer, resPer, float64(int64(ms1.HeapInuse)-int64(ms0.HeapInuse))/1024/n, ms1.NumGC-ms0.NumGC, t1)
	if res0 < 0 || len(wrong) != 0 || vaPer >= 2048 || resPer >= 16 {
		fmt.Printf("go small goroutines FAILED: %.1f KiB address space and %.1f KiB resident per parked goroutine, %d wrong results\n",
			vaPer, resPer, len(wrong))
		os.Exit(1)
	}
	fmt.Println("go small goroutines ok")
}
