package ctsyncv1

// Chunking of the ShowCache stream. An Entry encodes to about 100 bytes
// for IPv4 and at most about 700 (an expectation with IPv6 tuples, every status bit named, a
// long helper name), so MaxCacheChunk entries stay well under gRPC's
// default 4 MiB message limit (ctsyncd/internal/show tests it), and 100k
// entries take a few dozen messages.
const (
	DefaultCacheChunk = 1024
	MaxCacheChunk     = 4096
)
