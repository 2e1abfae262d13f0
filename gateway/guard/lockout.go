package guard

import (
	"sort"
	"sync"
	"time"
)

// Scope says what a lock applies to.
type Scope string

// Lock scopes.
const (
	// ScopeUser locks every login as one user, from anywhere.
	ScopeUser Scope = "user"
	// ScopeSource locks every login from one source address.
	ScopeSource Scope = "source"
)

// maxTracked bounds the sources whose failures a Lockout counts at once;
// beyond it, failures of new sources are not counted until old windows
// expire. Users are not capped: only configured users are counted, so
// the configuration bounds them, and a flood of sources cannot stop them
// from being counted.
const maxTracked = 1 << 16

// LockoutConfig are a Lockout's thresholds.
type LockoutConfig struct {
	UserFailures   int           // failed logins of one user within Window that lock it
	SourceFailures int           // failed logins from one source within Window that lock it
	Window         time.Duration // failures older than this are forgotten
	Duration       time.Duration // how long a lock lasts
}

// Lock is a user or source refused until a time.
type Lock struct {
	Scope    Scope
	Target   string    // user name or source
	Until    time.Time // lifted then
	Failures int       // failed logins that set it
}

// Lockout counts failed logins per user and per source and locks those
// with too many. It is safe for concurrent use.
type Lockout struct {
	cfg LockoutConfig
	now func() time.Time

	mu     sync.Mutex
	counts map[lockKey]*window
	locks  map[lockKey]Lock
}

type lockKey struct {
	scope  Scope
	target string
}

// window is a fixed counting window: count failures since start.
type window struct {
	start time.Time
	count int
}

// NewLockout returns an empty Lockout.
func NewLockout(cfg LockoutConfig) *Lockout {
	return &Lockout{cfg: cfg, now: time.Now, counts: map[lockKey]*window{}, locks: map[lockKey]Lock{}}
}

// Locked returns the lock refusing a login as user from source, if any
// (the user's first). user "" checks the source only.
func (l *Lockout) Locked(user, source string) (Lock, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range []lockKey{{ScopeUser, user}, {ScopeSource, source}} {
		if k.target == "" {
			continue
		}
		if lk, ok := l.locks[k]; ok {
			if now.Before(lk.Until) {
				return lk, true
			}
			delete(l.locks, k)
		}
	}
	return Lock{}, false
}

// Fail counts one failed login from source, as user when user is a
// configured user ("" otherwise), and returns the locks it started.
func (l *Lockout) Fail(user, source string) []Lock {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var started []Lock
	for _, k := range []struct {
		key       lockKey
		threshold int
	}{{lockKey{ScopeUser, user}, l.cfg.UserFailures}, {lockKey{ScopeSource, source}, l.cfg.SourceFailures}} {
		if k.key.target == "" {
			continue
		}
		if lk, ok := l.locks[k.key]; ok && now.Before(lk.Until) {
			continue // already locked: failures while locked do not extend it
		}
		w := l.counts[k.key]
		if w == nil || now.Sub(w.start) >= l.cfg.Window {
			// Only sources are capped: users are bounded by the
			// configuration, and a flood of sources must not stop users
			// from being counted (and locked).
			if w == nil && k.key.scope == ScopeSource && len(l.counts) >= maxTracked {
				l.sweepLocked(now)
				if len(l.counts) >= maxTracked {
					continue
				}
			}
			w = &window{start: now}
			l.counts[k.key] = w
		}
		w.count++
		if w.count >= k.threshold {
			lk := Lock{Scope: k.key.scope, Target: k.key.target, Until: now.Add(l.cfg.Duration), Failures: w.count}
			l.locks[k.key] = lk
			delete(l.counts, k.key)
			started = append(started, lk)
		}
	}
	return started
}

// Succeeded forgets the failures of user (a completed login proves the
// person has a valid key); the source's count stays.
func (l *Lockout) Succeeded(user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.counts, lockKey{ScopeUser, user})
}

// sweepLocked drops windows that ended.
func (l *Lockout) sweepLocked(now time.Time) {
	for k, w := range l.counts {
		if now.Sub(w.start) >= l.cfg.Window {
			delete(l.counts, k)
		}
	}
}

// Unlock lifts the locks on target (a user name or a source; both
// scopes are tried) and forgets its failures. It returns the locks
// lifted.
func (l *Lockout) Unlock(target string) []Lock {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var lifted []Lock
	for _, s := range []Scope{ScopeUser, ScopeSource} {
		k := lockKey{s, target}
		delete(l.counts, k)
		if lk, ok := l.locks[k]; ok {
			delete(l.locks, k)
			if now.Before(lk.Until) {
				lifted = append(lifted, lk)
			}
		}
	}
	return lifted
}

// Locks returns the locks in force, users first, then by target.
func (l *Lockout) Locks() []Lock {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var out []Lock
	for k, lk := range l.locks {
		if !now.Before(lk.Until) {
			delete(l.locks, k)
			continue
		}
		out = append(out, lk)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Scope != out[j].Scope {
			return out[i].Scope == ScopeUser
		}
		return out[i].Target < out[j].Target
	})
	return out
}
