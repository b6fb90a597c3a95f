package show

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// jsonOptions prints every field, zero counters included, so scripts
// reading --json find the same keys whatever the values.
var jsonOptions = protojson.MarshalOptions{Multiline: true, Indent: "  ", EmitUnpopulated: true}

// JSON renders any API response for --json, as protobuf's canonical JSON
// mapping (lowerCamelCase keys, enums by name, RFC 3339 timestamps),
// newline-terminated. Its whitespace is not stable across protobuf
// releases: parse it, never compare it as text.
func JSON(m proto.Message) ([]byte, error) {
	out, err := jsonOptions.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s as JSON: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return append(out, '\n'), nil
}
