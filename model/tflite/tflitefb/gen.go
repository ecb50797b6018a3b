// Package tflitefb holds the Go types of the TensorFlow Lite flatbuffer schema
// (schema.fbs, schema version 3, with HARD_SWISH and model metadata), generated
// by flatc 2.0.8 with the object API. Building needs only
// github.com/google/flatbuffers; regenerating needs flatc (Debian
// flatbuffers-compiler 2.0.8). schema.fbs is TensorFlow's
// tensorflow/lite/schema/schema.fbs at commit
// 4c1ad6329a0c4bf03ca437aa1cb3dc24e2d76920 (Apache 2.0, header kept), the
// schema of the TFLite 2.3 era that Arm NN 20.08's parser reads; later
// schemas only append to it.
package tflitefb

//go:generate sh -c "flatc --go --gen-object-api --go-namespace tflitefb -o .. schema.fbs && gofmt -w ."
