package onnx

import "blockprof/model/onnx/onnxpb"

// Attr returns n's attribute called name, or nil. The readers of model
// graphs (the Go interpreter, the TFLite converter, tests) share these.
func Attr(n *onnxpb.NodeProto, name string) *onnxpb.AttributeProto {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a
		}
	}
	return nil
}

// AttrInt returns n's integer attribute name, or def when n has none.
func AttrInt(n *onnxpb.NodeProto, name string, def int64) int64 {
	if a := Attr(n, name); a != nil {
		return a.GetI()
	}
	return def
}

// AttrInts returns n's integer-list attribute name, or nil.
func AttrInts(n *onnxpb.NodeProto, name string) []int64 {
	return Attr(n, name).GetInts()
}

// AttrFloat returns n's float attribute name, or def when n has none.
func AttrFloat(n *onnxpb.NodeProto, name string, def float32) float32 {
	if a := Attr(n, name); a != nil {
		return a.GetF()
	}
	return def
}
