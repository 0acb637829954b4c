// Package redisstore keeps entra's token cache in Redis, encrypted, so every
// instance of a service shares one cache: a token one instance fetched is
// served to the others without asking Entra again.
//
// It is a module of its own (github.com/entrakit/entra/store/redis), so
// go-redis stays out of the dependency graph of programs that do not use
// it. It works with a single Redis, Sentinel and Redis Cluster through
// go-redis's UniversalClient:
//
//	ring, err := store.NewKeyRing(key) // store.ParseKey(os.Getenv("ENTRA_CACHE_KEY"))
//	rs, err := redisstore.New(&redis.UniversalOptions{Addrs: []string{"redis:6379"}}, ring, nil)
//	cred, err := entra.NewClientSecretCredential(tenantID, clientID, secret, &entra.Options{Store: rs})
//
// Values are sealed by the store package's KeyRing (AES-256-GCM), bound to
// their Redis key; each is written with the TTL entra gives (the token's
// remaining lifetime), so Redis never fills with dead tokens.
//
// A Redis that is down, slow or flushed never fails a token call: a Load
// is then a miss and entra asks Entra. After a failure the store answers at
// once, without trying Redis, for Options.RetryInterval, then tries again:
// an outage costs each caller at most one short timeout, not one per
// command. It is logged once when it starts (Warn) and once when Redis is
// back (Info), never once per call; it recovers by itself.
package redisstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/store"
	"github.com/redis/go-redis/v9"
)

// Defaults applied by New to the zero fields of redis.UniversalOptions.
// They keep every command well inside entra's store budget
// (entra.Options.StoreTimeout, 500 ms by default), so a slow or
// unreachable Redis is detected by the store itself.
const (
	DefaultDialTimeout  = 250 * time.Millisecond // go-redis: 5 s
	DefaultReadTimeout  = 200 * time.Millisecond // go-redis: 3 s
	DefaultWriteTimeout = 200 * time.Millisecond // go-redis: ReadTimeout
	DefaultPoolTimeout  = 250 * time.Millisecond // go-redis: ReadTimeout + 1 s
	// DefaultRetryInterval is how long the store answers without Redis
	// after a failure.
	DefaultRetryInterval = time.Second
	// DefaultPrefix starts every key the store writes.
	DefaultPrefix = "entra:"
)

const defaultMaxValueSize = 1 << 20

// ErrUnavailable is the reason of a miss while Redis is unreachable (it
// matches entra.ErrNotFound too).
var ErrUnavailable = errors.New("entra: redis store unreachable; tokens come from memory and Entra until it is back")

// Options configures a Store. The zero value (or nil) works.
type Options struct {
	// Prefix starts every key; default "entra:". Give services that must
	// not share tokens different prefixes (or databases).
	Prefix string
	// Logger receives the start and end of an outage and unusable values
	// (each once). nil discards.
	Logger *slog.Logger
	// RetryInterval is how long, after a failed command, the store
	// answers without trying Redis (a miss for Load, nothing for Save and
	// Delete). 0 means one second.
	RetryInterval time.Duration
	// MaxValueSize bounds a value in bytes: a larger one in Redis is a
	// miss, a larger Save fails. 0 means 1 MiB.
	MaxValueSize int
}

// Store is an entra.Store in Redis. It is safe for concurrent use. Each
// method's ctx bounds its Redis command (go-redis's ContextTimeoutEnabled
// is set by New), within the read and write timeouts.
type Store struct {
	client    redis.UniversalClient
	ownClient bool
	ring      *store.KeyRing
	prefix    string
	logger    *slog.Logger
	retry     time.Duration
	maxValue  int

	down    atomic.Bool
	retryAt atomic.Int64 // Unix nanoseconds; before it, Redis is not tried

	mu     sync.Mutex          // guards logged; never held across I/O
	logged map[string][32]byte // key -> hash of the bad value already logged
}

var _ entra.Store = (*Store)(nil)

// New connects to Redis with a copy of ro (a single node for one address,
// a Cluster client for several, a Sentinel client when ro.MasterName is
// set), filling its zero fields with this package's defaults:
// ContextTimeoutEnabled true, DialTimeout 250 ms, ReadTimeout and
// WriteTimeout 200 ms, PoolTimeout 250 ms, one dial attempt and no command
// retries (entra's next call is the retry). Values are sealed with ring,
// which is required. Nothing is sent to Redis here. Close the Store to
// close its client.
func New(ro *redis.UniversalOptions, ring *store.KeyRing, opts *Options) (*Store, error) {
	if ro == nil || len(ro.Addrs) == 0 {
		return nil, errors.New("entra: the redis store needs at least one address in redis.UniversalOptions.Addrs")
	}
	o := *ro
	o.ContextTimeoutEnabled = true
	if o.DialTimeout == 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.PoolTimeout == 0 {
		o.PoolTimeout = DefaultPoolTimeout
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = -1
	}
	if o.DialerRetries == 0 {
		o.DialerRetries = 1
	}
	s, err := NewFromClient(nil, ring, opts)
	if err != nil {
		return nil, err
	}
	s.client, s.ownClient = redis.NewUniversalClient(&o), true
	return s, nil
}

// NewFromClient returns a Store over a client the caller configured and
// keeps (Close does not close it). Set ContextTimeoutEnabled and short
// timeouts on it, as New does: go-redis's defaults let one read block for
// 3 s whatever the ctx deadline, and retry a dead server for seconds.
func NewFromClient(client redis.UniversalClient, ring *store.KeyRing, opts *Options) (*Store, error) {
	if ring == nil {
		return nil, errors.New("entra: the redis store needs a key ring (store.NewKeyRing); values are always encrypted")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.RetryInterval <= 0 {
		o.RetryInterval = DefaultRetryInterval
	}
	if o.MaxValueSize <= 0 {
		o.MaxValueSize = defaultMaxValueSize
	}
	return &Store{client: client, ring: ring, prefix: o.Prefix, logger: o.Logger, retry: o.RetryInterval,
		maxValue: o.MaxValueSize, logged: map[string][32]byte{}}, nil
}

// Close closes the client New made (not one given to NewFromClient).
// Safe for concurrent use.
func (s *Store) Close() error {
	if s.ownClient {
		return s.client.Close()
	}
	return nil
}

// Client returns the underlying go-redis client. Safe for concurrent use.
func (s *Store) Client() redis.UniversalClient { return s.client }

// missError is a miss with a reason: it matches entra.ErrNotFound (entra
// treats it as an ordinary miss, logged here once) and the reason.
type missError struct{ reason error }

func (e *missError) Error() string   { return e.reason.Error() }
func (e *missError) Unwrap() []error { return []error{entra.ErrNotFound, e.reason} }

// Load returns the value under key. A missing or unusable value (corrupt,
// another encryption key, another key's value, oversized), an unreachable
// or slow Redis, all give an error matching entra.ErrNotFound. ctx bounds
// the command. Safe for concurrent use.
func (s *Store) Load(ctx context.Context, key string) ([]byte, error) {
	if !s.available() {
		return nil, &missError{ErrUnavailable}
	}
	rk := s.prefix + key
	b, err := s.client.Get(ctx, rk).Bytes()
	if errors.Is(err, redis.Nil) {
		s.up()
		return nil, entra.ErrNotFound
	}
	if err != nil {
		if s.failed(ctx, err) {
			return nil, &missError{ErrUnavailable}
		}
		return nil, err
	}
	s.up()
	if len(b) > s.maxValue+64 {
		s.logBad(rk, b, errors.New("entra: redis value larger than Options.MaxValueSize"))
		return nil, &missError{store.ErrCorrupt}
	}
	v, err := s.ring.Open(b, []byte(rk))
	if err != nil {
		s.logBad(rk, b, err)
		return nil, &missError{err}
	}
	return v, nil
}

// Save writes value under key, expiring after ttl (a ttl <= 0 deletes
// key). While Redis is unreachable it returns nil at once (the outage is
// logged once, not per call). ctx bounds the command. Safe for concurrent
// use.
func (s *Store) Save(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return s.Delete(ctx, key)
	}
	if len(value) > s.maxValue {
		return errors.New("entra: value larger than the redis store's Options.MaxValueSize")
	}
	if !s.available() {
		return nil
	}
	rk := s.prefix + key
	sealed, err := s.ring.Seal(value, []byte(rk))
	if err != nil {
		return err
	}
	if err := s.client.Set(ctx, rk, sealed, ttl).Err(); err != nil {
		if s.failed(ctx, err) {
			return nil
		}
		return err
	}
	s.up()
	return nil
}

// Delete removes key; a missing key is not an error, nor is an
// unreachable Redis (logged once per outage). ctx bounds the command.
// Safe for concurrent use.
func (s *Store) Delete(ctx context.Context, key string) error {
	if !s.available() {
		return nil
	}
	if err := s.client.Del(ctx, s.prefix+key).Err(); err != nil {
		if s.failed(ctx, err) {
			return nil
		}
		return err
	}
	s.up()
	return nil
}

// available reports whether Redis may be tried now.
func (s *Store) available() bool {
	at := s.retryAt.Load()
	return at == 0 || time.Now().UnixNano() >= at
}

// failed records a failed command. A command cancelled by its caller (not
// by a deadline) says nothing about Redis; anything else starts or
// continues an outage, logged when it starts. It reports whether err was
// an outage.
func (s *Store) failed(ctx context.Context, err error) bool {
	if errors.Is(err, context.Canceled) && ctx.Err() == context.Canceled {
		return false
	}
	var re redis.Error
	if errors.As(err, &re) && !isOutageReply(re.Error()) {
		return false // Redis answered (WRONGTYPE, NOPERM...): not an outage
	}
	s.retryAt.Store(time.Now().Add(s.retry).UnixNano())
	if s.down.CompareAndSwap(false, true) {
		s.logger.Warn("entra: redis store unreachable; tokens come from memory and Entra until it is back",
			slog.String("error", err.Error()), slog.Duration("retry_every", s.retry))
	}
	return true
}

// isOutageReply: Redis replies that mean it cannot serve now.
func isOutageReply(msg string) bool {
	for _, p := range []string{"LOADING", "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN", "READONLY", "BUSY"} {
		if len(msg) >= len(p) && msg[:len(p)] == p {
			return true
		}
	}
	return false
}

// up records a command Redis answered, ending an outage.
func (s *Store) up() {
	if s.down.Load() && s.down.CompareAndSwap(true, false) {
		s.retryAt.Store(0)
		s.logger.Info("entra: redis store reachable again")
	}
}

// logBad logs an unusable value once per (key, value).
func (s *Store) logBad(rk string, v []byte, why error) {
	sum := sha256.Sum256(v)
	s.mu.Lock()
	seen := s.logged[rk] == sum
	if !seen {
		if len(s.logged) >= 4096 {
			clear(s.logged)
		}
		s.logged[rk] = sum
	}
	s.mu.Unlock()
	if !seen {
		s.logger.Warn("entra: redis value unusable; treated as a miss, the next save replaces it",
			slog.String("key", rk), slog.String("error", why.Error()))
	}
}
