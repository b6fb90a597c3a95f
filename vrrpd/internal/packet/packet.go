package packet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Protocol is the IP protocol number of VRRP.
const Protocol = 112

// Version is the VRRP protocol version.
type Version uint8

const (
	// Version2 is VRRP for IPv4, RFC 3768.
	Version2 Version = 2
	// Version3 is VRRP for IPv4 and IPv6, RFC 5798 and RFC 9568.
	Version3 Version = 3
)

// Type is the VRRP message type.
type Type uint8

// TypeAdvertisement is the only VRRP message type.
const TypeAdvertisement Type = 1

// AuthType is the version 2 authentication type.
type AuthType uint8

const (
	// AuthNone is no authentication.
	AuthNone AuthType = 0
	// AuthSimple is a plain-text password in the authentication data.
	AuthSimple AuthType = 1
	// AuthAH is the IP Authentication Header; see the package documentation.
	AuthAH AuthType = 2
)

func (a AuthType) String() string {
	switch a {
	case AuthNone:
		return "none"
	case AuthSimple:
		return "plaintext-password"
	case AuthAH:
		return "ah"
	default:
		return fmt.Sprintf("auth-type(%d)", uint8(a))
	}
}

// AuthDataLen is the size of the version 2 authentication data.
const AuthDataLen = 8

// MaxAdvertInterval is the largest version 3 interval, in centiseconds: the
// field has 12 bits.
const MaxAdvertInterval = 0x0fff

const (
	headerLen = 8
	// maxAddresses is what the one-octet address count can say.
	maxAddresses = 255
)

// Advertisement is one VRRP advertisement.
type Advertisement struct {
	Version  Version
	Type     Type
	VRID     uint8
	Priority uint8
	// Addresses are the virtual addresses: IPv4 for version 2; all IPv4 or
	// all IPv6 for version 3, the family of the IP packet carrying them.
	Addresses []netip.Addr

	// AuthType, AdvertInterval and AuthData exist in version 2 only and
	// must be zero in a version 3 advert.
	AuthType AuthType
	// AdvertInterval is the interval between adverts in seconds.
	AdvertInterval uint8
	// AuthData is the password (AuthSimple), else zero on transmission.
	AuthData [AuthDataLen]byte

	// MaxAdvertInterval is the version 3 interval between adverts in
	// centiseconds, at most MaxAdvertInterval; zero in version 2.
	MaxAdvertInterval uint16

	// Checksum is the checksum as received. Marshal ignores it and writes
	// the one it computes.
	Checksum uint16
}

// Interval is the time between adverts the advert announces.
func (a Advertisement) Interval() time.Duration {
	if a.Version == Version3 {
		return time.Duration(a.MaxAdvertInterval) * 10 * time.Millisecond
	}
	return time.Duration(a.AdvertInterval) * time.Second
}

// Options are the encoding choices both ends of a group must agree on.
type Options struct {
	// V3ChecksumAsV2 computes version 3 checksums over IPv4 without the
	// pseudo-header, as keepalived's v3_checksum_as_v2 does; see the
	// package documentation.
	V3ChecksumAsV2 bool
}

// PasswordAuthData returns the authentication data for a plain-text
// password: 1 to 8 octets, NUL-padded.
func PasswordAuthData(password string) ([AuthDataLen]byte, error) {
	var data [AuthDataLen]byte
	if len(password) == 0 || len(password) > AuthDataLen {
		return data, fmt.Errorf("password of %d octets: use 1 to %d", len(password), AuthDataLen)
	}
	copy(data[:], password)
	return data, nil
}

// Len is the size of the advert's VRRP message in octets.
func (a Advertisement) Len() int {
	n := headerLen
	for _, addr := range a.Addresses {
		n += addr.BitLen() / 8
	}
	if a.Version == Version2 {
		n += AuthDataLen
	}
	return n
}

// Marshal encodes the advert as the payload of an IP packet from src to dst,
// the addresses the checksum's pseudo-header needs in version 3.
func Marshal(adv Advertisement, src, dst netip.Addr, opts Options) ([]byte, error) {
	if err := validateForMarshal(adv, src, dst); err != nil {
		return nil, fmt.Errorf("encode VRRP advert for VRID %d: %w", adv.VRID, err)
	}
	b := make([]byte, adv.Len())
	b[0] = byte(adv.Version)<<4 | byte(adv.Type)
	b[1] = adv.VRID
	b[2] = adv.Priority
	b[3] = byte(len(adv.Addresses))
	if adv.Version == Version2 {
		b[4] = byte(adv.AuthType)
		b[5] = adv.AdvertInterval
	} else {
		// The 4 reserved bits above the interval stay zero.
		binary.BigEndian.PutUint16(b[4:6], adv.MaxAdvertInterval)
	}
	off := headerLen
	for _, addr := range adv.Addresses {
		off += copy(b[off:], addr.AsSlice())
	}
	if adv.Version == Version2 {
		copy(b[off:], adv.AuthData[:])
	}
	binary.BigEndian.PutUint16(b[6:8], checksum(adv.Version, b, src, dst, opts))
	return b, nil
}

func validateForMarshal(adv Advertisement, src, dst netip.Addr) error {
	if adv.Type != TypeAdvertisement {
		return fmt.Errorf("message type %d: only %d (advertisement) exists", adv.Type, TypeAdvertisement)
	}
	if len(adv.Addresses) > maxAddresses {
		return fmt.Errorf("%d addresses: at most %d fit in one advert", len(adv.Addresses), maxAddresses)
	}
	if err := checkEndpoints(adv.Version, src, dst); err != nil {
		return err
	}
	for _, addr := range adv.Addresses {
		if addr.Is4() != src.Is4() || addr.Is4In6() {
			return fmt.Errorf("address %v in an advert sent from %v: a group's addresses are all of its packets' family", addr, src)
		}
	}
	switch adv.Version {
	case Version2:
		if adv.MaxAdvertInterval != 0 {
			return errors.New("version 2 has no MaxAdvertInterval: set AdvertInterval (seconds)")
		}
		if adv.AuthType > AuthAH {
			return fmt.Errorf("authentication type %d: use 0 (none), 1 (password) or 2 (AH)", adv.AuthType)
		}
	case Version3:
		if adv.AuthType != AuthNone || adv.AuthData != [AuthDataLen]byte{} || adv.AdvertInterval != 0 {
			return errors.New("version 3 has no authentication and no AdvertInterval: set MaxAdvertInterval (centiseconds)")
		}
		if adv.MaxAdvertInterval > MaxAdvertInterval {
			return fmt.Errorf("interval of %d centiseconds: at most %d fit in version 3", adv.MaxAdvertInterval, MaxAdvertInterval)
		}
	}
	return nil
}

// checkEndpoints rejects IP endpoints no advert can have; the caller, not
// the packet, is then at fault.
func checkEndpoints(v Version, src, dst netip.Addr) error {
	switch v {
	case Version2, Version3:
	default:
		return fmt.Errorf("VRRP version %d: use 2 or 3", v)
	}
	if !endpointsOfOneFamily(src, dst) {
		return fmt.Errorf("IP endpoints %v -> %v: need two IPv4 or two IPv6 addresses", src, dst)
	}
	if v == Version2 && !src.Is4() {
		return errors.New("VRRP version 2 is IPv4 only: use version 3 for IPv6")
	}
	return nil
}

func endpointsOfOneFamily(src, dst netip.Addr) bool {
	return src.IsValid() && dst.IsValid() && src.Is4() == dst.Is4() && !src.Is4In6() && !dst.Is4In6()
}

// Unmarshal decodes a received VRRP message, the payload of an IP packet
// from src to dst, and checks what the message alone can tell: version, type,
// length, checksum and authentication type. When the message fails a check,
// the error is a *DropError saying why; any other error means src and dst
// cannot be the endpoints of an advert.
func Unmarshal(payload []byte, src, dst netip.Addr, opts Options) (Advertisement, error) {
	if !endpointsOfOneFamily(src, dst) {
		return Advertisement{}, fmt.Errorf("decode VRRP advert: IP endpoints %v -> %v: need two IPv4 or two IPv6 addresses", src, dst)
	}
	if len(payload) < headerLen {
		return Advertisement{}, drop(DropLength, "%d octets, shorter than the %d-octet header", len(payload), headerLen)
	}
	adv := Advertisement{
		Version:  Version(payload[0] >> 4),
		Type:     Type(payload[0] & 0x0f),
		VRID:     payload[1],
		Priority: payload[2],
		Checksum: binary.BigEndian.Uint16(payload[6:8]),
	}
	switch {
	case adv.Version == Version2 && src.Is4(), adv.Version == Version3:
	default:
		return Advertisement{}, drop(DropVersion, "version %d from %v", adv.Version, src)
	}
	if adv.Type != TypeAdvertisement {
		return Advertisement{}, drop(DropType, "type %d", adv.Type)
	}
	count := int(payload[3])
	addrLen := 4
	if !src.Is4() {
		addrLen = 16
	}
	want := headerLen + count*addrLen
	if adv.Version == Version2 {
		want += AuthDataLen
	}
	if len(payload) != want {
		return Advertisement{}, drop(DropLength, "%d octets where %d addresses make %d", len(payload), count, want)
	}
	if sum := checksum(adv.Version, payload, src, dst, opts); sum != adv.Checksum {
		return Advertisement{}, drop(DropChecksum, "checksum %#04x, computed %#04x", adv.Checksum, sum)
	}
	if adv.Version == Version2 {
		adv.AuthType = AuthType(payload[4])
		adv.AdvertInterval = payload[5]
		if adv.AuthType > AuthAH {
			return Advertisement{}, drop(DropAuthUnknown, "authentication type %d", adv.AuthType)
		}
		copy(adv.AuthData[:], payload[want-AuthDataLen:])
	} else {
		adv.MaxAdvertInterval = binary.BigEndian.Uint16(payload[4:6]) & MaxAdvertInterval
	}
	if count > 0 {
		adv.Addresses = make([]netip.Addr, count)
		for i := range adv.Addresses {
			off := headerLen + i*addrLen
			adv.Addresses[i], _ = netip.AddrFromSlice(payload[off : off+addrLen])
		}
	}
	return adv, nil
}
