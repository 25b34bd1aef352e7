/* Checks (gccgo): heap objects whose only references are on deep,
   segmented goroutine stacks survive garbage collections.

   64 holder goroutines each recurse 300 levels; every level allocates a
   node on the heap, fills it with a pattern, keeps the only pointer to it
   in its own frame and gives it a finalizer.  The levels are spread over
   many stack segments (each frame also holds a 600-byte array), so the
   collector can find the nodes only by scanning every segment of every
   parked goroutine (libgo: __splitstack_find over the goroutine's
   context, docs/abi.md 5.6).  While the holders are parked at the bottom,
   4 goroutines allocate garbage and call runtime.GC() 20 times.  Then the
   holders unwind, each level checking its node's pattern.  A node freed
   while still referenced shows as a finalizer that ran before the
   holders returned, or as a changed pattern once the memory was reused.
   Prints "go gc stack ok".  */
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
)

const (
	holders = 64
	levels  = 300
	words   = 32
)

type node struct {
	id   int
	data [words]uint64
}

var finalized int64
var bad int64

func pattern(id, i int) uint64 {
	return uint64(id)*0x9e3779b97f4a7c15 ^ uint64(i)*0xbf58476d1ce4e5b9
}

func newNode(id int) *node {
	n := &node{id: id}
	for i := range n.data {
		n.data[i] = pattern(id, i)
	}
	runtime.SetFinalizer(n, func(*node) { atomic.AddInt64(&finalized, 1) })
	return n
}

func (n *node) ok(id int) bool {
	if n.id != id {
		return false
	}
	for i := range n.data {
		if n.data[i] != pattern(id, i) {
			return false
		}
	}
	return true
}

//go:noinline
func hold(h, level int, parked *sync.WaitGroup, release chan struct{}) int {
	var pad [600]byte
	id := h*levels + level
	n := newNode(id)
	pad[level%600] = byte(level)
	sum := 0
	if level+1 < levels {
		sum = hold(h, level+1, parked, release)
	} else {
		parked.Done()
		<-release
	}
	if !n.ok(id) {
		atomic.AddInt64(&bad, 1)
	}
	return sum + int(pad[level%600])
}

func main() {
	var parked, done sync.WaitGroup
	release := make(chan struct{})
	parked.Add(holders)
	done.Add(holders)
	for h := 0; h < holders; h++ {
		go func(h int) {
			hold(h, 0, &parked, release)
			done.Done()
		}(h)
	}
	parked.Wait()
	var churn sync.WaitGroup
	var keep int64
	for w := 0; w < 4; w++ {
		churn.Add(1)
		go func(w int) {
			defer churn.Done()
			var sum int64
			for r := 0; r < 5; r++ {
				for i := 0; i < 2000; i++ {
					b := make([]byte, 64+i%512)
					b[0] = byte(i)
					sum += int64(b[0])
				}
				runtime.GC()
			}
			atomic.AddInt64(&keep, sum)
		}(w)
	}
	churn.Wait()
	before := atomic.LoadInt64(&finalized)
	close(release)
	done.Wait()
	if before != 0 || bad != 0 {
		fmt.Printf("go gc stack FAILED: %d finalizers ran while referenced, %d nodes changed\n",
			before, bad)
		os.Exit(1)
	}
	fmt.Println("go gc stack ok")
	_ = keep
}
