// Package store persists entra's token cache outside the process, encrypted
// at rest: File keeps it in a directory of one machine (it survives
// restarts and is shared safely by several processes), and the nested
// module github.com/entrakit/entra/store/redis keeps it in Redis (shared
// by every instance of a service). Both implement entra.Store; give one to
// entra.Options.Store.
//
// Values are always encrypted with AES-256-GCM under a KeyRing: there is
// no plaintext mode. A KeyRing seals with its newest key and opens with
// any of its keys, so keys rotate without losing the cache; each value is
// bound to its entry's key (a value copied under another key does not
// decrypt). Keep the keys out of the cache's reach, for example in an
// environment variable or a secret manager:
//
//	key, err := store.ParseKey(os.Getenv("ENTRA_CACHE_KEY")) // openssl rand -hex 32
//	ring, err := store.NewKeyRing(key)
//	files, err := store.NewFile(ring, nil) // os.UserCacheDir()/entra
//	cred, err := entra.NewClientSecretCredential(tenantID, clientID, secret, &entra.Options{Store: files})
//
// A store problem (a corrupt file, another key, a full disk, Redis down)
// never fails a token call: entra treats it as a miss, asks Entra, and
// logs it.
//
// Platforms: the file store runs on Linux, macOS and the BSDs. On Windows
// NewFile returns ErrUnsupported: it would need LockFileEx instead of
// flock(2), a check of the directory's ACL instead of POSIX modes, and a
// retried rename while another process holds the file open.
package store
