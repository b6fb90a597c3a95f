// Package show renders ctsyncd's API messages (proto/hasuite/ctsync/v1) as
// the text of its operational commands, in the guide's formats: `show
// conntrack-sync status` (spec CS-O01, Examples 4-17 and 4-18), the
// internal and external caches (CS-O02, Examples 4-10 to 4-15) and the
// statistics (CS-O03, Example 4-16, conntrackd -s's layout), each followed
// by what ctsyncd adds beyond the guide in a block of its own, so the
// guide's lines stay first and unchanged; plus JSON for --json.
//
// Renderers are pure: they take messages (and the current time, whose
// location is the time zone printed, where they print times) and return
// text, so the CLI only fetches and prints, and tests compare against
// golden files. The caches are the exception in form, not in purity: a
// cache may hold 100k entries, so CacheWriter and CacheJSONWriter write
// the rows of each streamed chunk as it arrives instead of building one
// string. Nothing here can print the sync secret: the API carries none.
package show
