/* Checks (gccgo): a goroutine switch keeps every register that a call
   preserves (AAPCS64: x19-x29, SP and the low 64 bits of v8-v15), and
   unwinding a goroutine's stack stops at its first frame.  libgo
   switches goroutines with __go_getcontext and __go_setcontext
   (libgo/runtime/proc.c; on AArch64 GNU/Linux the register-only ones of
   libgo/runtime/go-context.S, before them glibc's getcontext and
   setcontext), and the saved registers are also what the collector scans
   for a goroutine in a system call (G.gcregs, docs/abi.md 5.10).

   64 goroutines each run mix(), which keeps ten integers and eight
   floats live across calls that block on channels, so at -O2 they sit
   in x19-x28 and d8-d15 while the goroutine is parked and other
   goroutines, with other values, run on the same threads.  Every result
   must equal that of the same function run without blocking.  Each
   goroutine also keeps a heap list, referenced only from its own stack
   or saved registers, across the collections that run meanwhile, and
   counts its frames with glibc's backtrace: a new goroutine's stack
   must end within 32 frames (the unwind information of the context's
   start must end the stack, as that of glibc's makecontext did; the
   unwinder must not walk into garbage or loop).

   What this cannot show: that __go_setcontext restores x19-x28 and
   d8-d15.  libgo's runtime_mcall, through which every goroutine parks,
   saves all of them in its own frame (__builtin_unwind_init) and
   restores them on the way back, so a switch that forgot them would go
   unnoticed here (tried: __go_setcontext without its loads of d8/d9 or
   x21/x22 passes); conformance/cases/go_context_registers.c calls the
   functions from C and shows it.  Nor that the unwind information of the context's
   start says where the stack ends: without it the unwinder would find
   the same frame again and again, which glibc's backtrace notices and
   stops at (tried: without DW_CFA_undefined x30, 5 frames either way).
   Prints "go switch registers ok".  */
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
)

const goroutines = 64
const rounds = 200

type node struct {
	v    int
	next *node
}

//go:noinline
func sink(x int) int { return x ^ 0x5a5a }

// mix keeps a..j and f1..f8 live across every call to wait.
//
//go:noinline
func mix(seed int, wait func(int)) (int, float64) {
	a, b, c, d, e := seed+1, seed*3+2, seed^0x55, seed+7, seed*5
	f, g, h, i, j := seed-3, seed*11, seed+13, seed^0x3c3c, seed*17+1
	f1, f2, f3, f4 := float64(seed)+0.5, float64(seed)*1.25, float64(seed)-2.75, float64(seed)/3
	f5, f6, f7, f8 := float64(seed)*0.125, float64(seed)+9.5, float64(seed)*7, float64(seed)-0.0625
	for r := 0; r < rounds; r++ {
		wait(r)
		a, b, c, d, e = b+sink(c), c^d, d+e, e+sink(f), f-g
		f, g, h, i, j = g+h, h^i, i+sink(j), j+a, a^b
		wait(r)
		f1, f2, f3, f4 = f2+f3*0.5, f3-f4, f4*0.75+f5, f5+f6
		f5, f6, f7, f8 = f6-f7*0.25, f7+f8, f8*0.5-f1, f1+float64(a&0xff)
	}
	return a + b + c + d + e + f + g + h + i + j, f1 + f2 + f3 + f4 + f5 + f6 + f7 + f8
}

// backtrace is glibc's backtrace(3), which walks the stack with the
// unwinder (_Unwind_Backtrace) until the unwind information says the
// stack ends.  (runtime.Callers would not show a missing end: libgo
// stops its traces at runtime.kickoff by name, go-callers.c.)
//
//extern backtrace
func backtrace(buf *uintptr, size int32) int32

//go:noinline
func frames() int {
	pcs := make([]uintptr, 256)
	return int(backtrace(&pcs[0], int32(len(pcs))))
}

func main() {
	want := make([]int, goroutines)
	wantf := make([]float64, goroutines)
	for k := range want {
		want[k], wantf[k] = mix(k*1000003, func(int) {})
	}

	type result struct {
		i      int
		f      float64
		frames int
		held   int
	}
	results := make([]result, goroutines)
	chans := make([]chan int, goroutines)
	for k := range chans {
		chans[k] = make(chan int)
	}
	var wg sync.WaitGroup
	for k := 0; k < goroutines; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			held := &node{v: k}
			for m := 0; m < 50; m++ {
				held = &node{v: held.v + 1, next: held}
			}
			results[k].frames = frames()
			results[k].i, results[k].f = mix(k*1000003, func(r int) {
				chans[k] <- r
			})
			n := 0
			for p := held; p != nil; p = p.next {
				n += p.v
			}
			results[k].held = n
		}(k)
	}
	// Drive the goroutines in an order unrelated to their numbers, with
	// collections and other goroutines' work in between.
	done := make(chan struct{})
	go func() {
		for c := 0; c < 20; c++ {
			runtime.GC()
			_ = make([]byte, 1<<16)
			runtime.Gosched()
		}
		close(done)
	}()
	for r := 0; r < 2*rounds; r++ {
		for k := 0; k < goroutines; k++ {
			kk := (k*37 + r) % goroutines
			<-chans[kk]
		}
	}
	wg.Wait()
	<-done

	bad := 0
	for k, res := range results {
		wantHeld := 0
		for m := 0; m <= 50; m++ {
			wantHeld += k + m
		}
		if res.i != want[k] || res.f != wantf[k] || res.frames <= 0 || res.frames > 32 || res.held != wantHeld {
			if bad < 5 {
				fmt.Printf("goroutine %d: got %d %v (frames %d, held %d), want %d %v (held %d)\n",
					k, res.i, res.f, res.frames, res.held, want[k], wantf[k], wantHeld)
			}
			bad++
		}
	}
	if bad != 0 {
		fmt.Printf("go switch registers FAILED: %d of %d goroutines\n", bad, goroutines)
		os.Exit(1)
	}
	fmt.Println("go switch registers ok")
}
