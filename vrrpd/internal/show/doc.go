// Package show renders vrrpd's API messages (proto/hasuite/vrrp/v1) as the
// text the guide's operational commands print (spec VR-O01..O09) and as
// JSON for --json.
//
// Every renderer is pure: it takes messages, and the current time where it
// prints elapsed times, and returns text, so the CLI only fetches and
// prints and tests compare against golden files. The layouts are the
// spec's canonical ones; where the guide only shows one "as printed"
// example, that example is the layout. Nothing here can print a secret:
// the API carries no passwords.
package show
