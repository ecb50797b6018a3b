// Package tflitefb holds the Go types of the TensorFlow Lite flatbuffer schema
// (schema.fbs, schema version 3, with HARD_SWISH and model metadata), generated
// by flatc 2.0.8 with the object API. Building needs only
// github.com/google/flatbuffers.
//
// Regenerating needs flatc (Debian flatbuffers-compiler 2.0.8) and the schema,
// which no Debian package ships and which is not copied into this repository:
// TensorFlow's tensorflow/lite/schema/schema.fbs (Apache 2.0) at commit
// 4c1ad6329a0c4bf03ca437aa1cb3dc24e2d76920, the schema of the TFLite 2.3 era
// that Arm NN 20.08's parser reads (later schemas only append to it), from
// https://raw.githubusercontent.com/tensorflow/tensorflow/4c1ad6329a0c4bf03ca437aa1cb3dc24e2d76920/tensorflow/lite/schema/schema.fbs
// saved as schema.fbs in this folder; then run go generate here.
package tflitefb

//go:generate sh -c "test -f schema.fbs || { echo 'tflitefb: put TensorFlow Lite schema.fbs here first (see gen.go)' >&2; exit 1; }; flatc --go --gen-object-api --go-namespace tflitefb -o .. schema.fbs && gofmt -w ."
