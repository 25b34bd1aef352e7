/* Checks (gccgo): goroutines really cross into new segments, new ones and
   reused ones.

   64 goroutines each recurse through 2 MiB (2048 frames of about 1 KiB:
   beyond the first segment of PTHREAD_STACK_MIN and the reserve of a
   __splitstack_makecontext context, docs/abi.md 5.9), check every value
   on the way back, and at the bottom count the stack's segments with
   __splitstack_find (libgcc, what libgo's collector uses; docs/abi.md
   5.10): 2 MiB of frames need at least two.  (Frame addresses cannot
   tell: gccgo moves an array whose address is converted to uintptr to
   the heap.)  They exit, and 64 more
   goroutines do the same: libgo reuses the exited goroutines' G
   structures and resets their contexts (__splitstack_resetcontext).
   Every goroutine must have crossed and computed the right values; with
   fixed 4 MiB stacks nothing crosses (the check fails), and a context
   whose guard never triggers __morestack overruns its segment.
   Prints "go crossing ok".  */
package main

import (
	"fmt"
	"os"
	"sync"
	"unsafe"
)

const (
	goroutines = 64
	frames     = 2048
)

// touch keeps buf in the caller's frame (its address is taken; it does
// not escape).
//
//go:noinline
func touch(b *[1000]byte, n int) int {
	b[n%1000] = byte(n)
	return int(b[n%1000])
}

//extern __splitstack_find
func splitstackFind(segment, sp unsafe.Pointer, size *uintptr, nextSegment, nextSP, initialSP *unsafe.Pointer) unsafe.Pointer

// segments counts the ranges __splitstack_find reports for the calling
// goroutine's stack.
//
//go:noinline
func segments() int {
	var size uintptr
	var next, nextSP, initial unsafe.Pointer
	n := 0
	for p := splitstackFind(nil, nil, &size, &next, &nextSP, &initial); p != nil; p = splitstackFind(next, nextSP, &size, &next, &nextSP, &initial) {
		n++
		if n > 1<<16 {
			break
		}
	}
	return n
}

// deep recurses n levels; at the bottom *segs gets the number of
// segments of the stack.
//
//go:noinline
func deep(n int, segs *int) int {
	var buf [1000]byte
	if touch(&buf, n) != n&0xff {
		return -1 << 40
	}
	if n == 0 {
		*segs = segments()
		return 0
	}
	return deep(n-1, segs) + n + int(buf[n%1000]) - n&0xff
}

func batch(name string) int {
	var wg sync.WaitGroup
	bad := make(chan string, goroutines)
	for i := 0; i < goroutines; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			segs := 0
			n := frames - i%4
			if got := deep(n, &segs); got != n*(n+1)/2 {
				bad <- fmt.Sprintf("%s goroutine %d: deep(%d) = %d", name, i, n, got)
				return
			}
			if segs < 2 {
				bad <- fmt.Sprintf("%s goroutine %d: 2 MiB of frames on %d segment(s)", name, i, segs)
			}
		}(i)
	}
	wg.Wait()
	close(bad)
	n := 0
	for b := range bad {
		if n < 3 {
			fmt.Fprintln(os.Stderr, b)
		}
		n++
	}
	return n
}

func main() {
	bad := batch("new")
	bad += batch("reused")
	if bad != 0 {
		fmt.Printf("go crossing FAILED: %d goroutines\n", bad)
		os.Exit(1)
	}
	fmt.Println("go crossing ok")
}
