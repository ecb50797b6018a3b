package tflite

// WithFloatPad returns opts with int8 PAD computed in float (see
// Options.floatPad): for Arm NN 20.08, whose int8 PAD ignores the zero point.
func WithFloatPad(opts Options) Options {
	opts.floatPad = true
	return opts
}
