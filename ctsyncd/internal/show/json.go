package show

import (
	"bytes"
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// jsonOptions prints every field, zero counters included, so scripts
// reading --json find the same keys whatever the values.
var jsonOptions = protojson.MarshalOptions{EmitUnpopulated: true}

// JSON renders any API response for --json, as protobuf's canonical JSON
// mapping (lowerCamelCase keys, enums by name, RFC 3339 timestamps),
// indented by two spaces, newline-terminated. protojson varies its
// whitespace on purpose; re-indenting with encoding/json makes the text
// stable, so golden files can pin it.
func JSON(m proto.Message) ([]byte, error) {
	var b bytes.Buffer
	if err := appendJSON(&b, m, ""); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// appendJSON writes m as indented JSON whose lines after the first start
// with prefix, without a final newline.
func appendJSON(b *bytes.Buffer, m proto.Message, prefix string) error {
	out, err := jsonOptions.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s as JSON: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	if err := json.Indent(b, out, prefix, "  "); err != nil {
		return fmt.Errorf("indent %s JSON: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return nil
}
