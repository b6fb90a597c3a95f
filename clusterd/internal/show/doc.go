// Package show renders clusterd's API messages (proto/hasuite/cluster/v1)
// as the text of its operational commands: `show cluster status` exactly
// as the guide prints it (spec CL-O01, Examples 3-6 to 3-10, with the
// spec's canonical fixes), and beyond the guide `show cluster nodes` and
// `show cluster statistics`, plus JSON for --json.
//
// Every renderer is pure: it takes messages, and the current time where it
// prints ages, and returns text, so the CLI only fetches and prints and
// tests compare against golden files. Nothing here can print the secret:
// the API carries none.
package show
