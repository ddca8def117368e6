package driver

import "sync"

// AllocLocks serialises the operations on one allocation (a driver's
// Start, Stop and Inspect of the same task), while different allocations
// proceed in parallel. The zero value is ready to use.
type AllocLocks struct {
	mu sync.Mutex
	m  map[string]*allocLock
}

type allocLock struct {
	mu   sync.Mutex
	refs int
}

// Lock locks the allocation id and returns the function that unlocks it.
func (l *AllocLocks) Lock(id string) (unlock func()) {
	l.mu.Lock()
	if l.m == nil {
		l.m = make(map[string]*allocLock)
	}
	al := l.m[id]
	if al == nil {
		al = &allocLock{}
		l.m[id] = al
	}
	al.refs++
	l.mu.Unlock()
	al.mu.Lock()
	return func() {
		al.mu.Unlock()
		l.mu.Lock()
		if al.refs--; al.refs == 0 {
			delete(l.m, id)
		}
		l.mu.Unlock()
	}
}
