package wire

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Key is the HMAC-SHA256 key of one cluster group. The zero Key is not a
// key: Marshal and Unmarshal refuse it with ErrNoKey.
type Key struct {
	k     [sha256.Size]byte
	valid bool
}

// keySalt is the HKDF salt: fixed and public, it separates this use of the
// secret from any other (RFC 5869 §3.1). A new wire version that changes
// what the MAC covers changes it too.
const keySalt = "hasuite clusterd heartbeat v1"

// DeriveKey turns the configured pre-shared-secret into the MAC key of
// group: HKDF-SHA256 with a fixed salt and the group name as info.
//
// Why not key HMAC with the secret directly: HMAC would accept it, but then
// two groups (or two hasuite protocols) sharing a secret would share a key,
// and a heartbeat of one would verify in the other. HKDF adds no strength to
// a weak secret; the configuration warns about short ones (CL-C13).
func DeriveKey(secret, group string) (Key, error) {
	if secret == "" {
		return Key{}, errors.New("wire: empty pre-shared-secret: configure `cluster pre-shared-secret`")
	}
	if err := checkGroup(group); err != nil {
		return Key{}, fmt.Errorf("wire: derive key: %w", err)
	}
	raw, err := hkdf.Key(sha256.New, []byte(secret), []byte(keySalt), group, sha256.Size)
	if err != nil {
		return Key{}, fmt.Errorf("wire: derive key: %w", err)
	}
	var k Key
	copy(k.k[:], raw)
	k.valid = true
	return k, nil
}

func (k Key) check() error {
	if !k.valid {
		return ErrNoKey
	}
	return nil
}

func (k Key) mac(b []byte) []byte {
	h := hmac.New(sha256.New, k.k[:])
	h.Write(b)
	return h.Sum(nil)
}

// Equal reports whether two keys are the same, in constant time; for
// reloads that must know whether the secret changed.
func (k Key) Equal(other Key) bool {
	return k.valid == other.valid && hmac.Equal(k.k[:], other.k[:])
}

// String never shows the key.
func (k Key) String() string {
	if !k.valid {
		return "wire.Key(none)"
	}
	return "wire.Key(********)"
}
