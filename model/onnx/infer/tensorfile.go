package infer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// npyMagic starts every .npy file.
const npyMagic = "\x93NUMPY"

// ParseNPY reads a NumPy .npy file holding a little-endian float32 array in
// C order (numpy.save of a float32 array): its shape and values. Anything
// else — another dtype or byte order, Fortran order, a malformed header, a
// data size that does not match the shape — is an error saying what.
func ParseNPY(b []byte) (shape []int, data []float32, err error) {
	if len(b) < 10 || string(b[:6]) != npyMagic {
		return nil, nil, errors.New("not a .npy file (no \\x93NUMPY magic)")
	}
	major := b[6]
	var hlen, off int
	switch major {
	case 1:
		hlen, off = int(binary.LittleEndian.Uint16(b[8:10])), 10
	case 2, 3:
		if len(b) < 12 {
			return nil, nil, errors.New(".npy header is cut short")
		}
		hlen, off = int(binary.LittleEndian.Uint32(b[8:12])), 12
	default:
		return nil, nil, fmt.Errorf(".npy format version %d.%d: want 1.0, 2.0 or 3.0", major, b[7])
	}
	if hlen > len(b)-off {
		return nil, nil, fmt.Errorf(".npy header of %d bytes, but only %d follow", hlen, len(b)-off)
	}
	header := string(b[off : off+hlen])
	shape, err = parseNPYHeader(header)
	if err != nil {
		return nil, nil, fmt.Errorf(".npy header %q: %w", header, err)
	}
	n := 1
	for _, d := range shape {
		if d > 0 && n > math.MaxInt32/d {
			return nil, nil, fmt.Errorf(".npy shape %v is too large", shape)
		}
		n *= d
	}
	body := b[off+hlen:]
	if len(body) != 4*n {
		return nil, nil, fmt.Errorf(".npy shape %v needs %d bytes of float32 data, the file has %d", shape, 4*n, len(body))
	}
	data = make([]float32, n)
	for i := range data {
		data[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:]))
	}
	return shape, data, nil
}

// parseNPYHeader parses the Python dict literal of a .npy header, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 224, 224), }
// followed by spaces and a newline.
func parseNPYHeader(h string) ([]int, error) {
	p := &dictParser{s: h}
	p.space()
	if !p.eat('{') {
		return nil, errors.New("want a dict starting with {")
	}
	var (
		descr, fortran string
		shape          []int
		seen           = map[string]bool{}
	)
	for {
		p.space()
		if p.eat('}') {
			break
		}
		key, err := p.str()
		if err != nil {
			return nil, fmt.Errorf("key: %w", err)
		}
		if seen[key] {
			return nil, fmt.Errorf("key %q twice", key)
		}
		seen[key] = true
		p.space()
		if !p.eat(':') {
			return nil, fmt.Errorf("want : after %q", key)
		}
		p.space()
		switch key {
		case "descr":
			if descr, err = p.str(); err != nil {
				return nil, fmt.Errorf("descr: %w", err)
			}
		case "fortran_order":
			fortran = p.word()
		case "shape":
			if shape, err = p.tuple(); err != nil {
				return nil, fmt.Errorf("shape: %w", err)
			}
		default:
			return nil, fmt.Errorf("unknown key %q (want descr, fortran_order, shape)", key)
		}
		p.space()
		if p.eat(',') {
			continue
		}
		p.space()
		if !p.eat('}') {
			return nil, fmt.Errorf("want , or } after %q", key)
		}
		break
	}
	if rest := strings.TrimRight(p.s[p.i:], " \n"); rest != "" {
		return nil, fmt.Errorf("%q after the dict", rest)
	}
	switch {
	case !seen["descr"] || !seen["fortran_order"] || !seen["shape"]:
		return nil, errors.New("want the keys descr, fortran_order and shape")
	case descr != "<f4":
		return nil, fmt.Errorf("dtype %q: want little-endian float32 '<f4' (save with arr.astype('<f4'))", descr)
	case fortran != "False":
		return nil, fmt.Errorf("fortran_order %s: want False (C order; save np.ascontiguousarray(arr))", fortran)
	}
	return shape, nil
}

type dictParser struct {
	s string
	i int
}

func (p *dictParser) space() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *dictParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *dictParser) str() (string, error) {
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", errors.New("want a quoted string")
	}
	q := p.s[p.i]
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", errors.New("unterminated string")
	}
	v := p.s[p.i+1 : p.i+1+end]
	if strings.ContainsAny(v, "\\\n") {
		return "", fmt.Errorf("string %q: escapes are not supported", v)
	}
	p.i += end + 2
	return v, nil
}

func (p *dictParser) word() string {
	j := p.i
	for j < len(p.s) && (p.s[j] >= 'A' && p.s[j] <= 'Z' || p.s[j] >= 'a' && p.s[j] <= 'z') {
		j++
	}
	w := p.s[p.i:j]
	p.i = j
	return w
}

// MaxNPYRank bounds the rank of a .npy shape.
const MaxNPYRank = 8

func (p *dictParser) tuple() ([]int, error) {
	if !p.eat('(') {
		return nil, errors.New("want a tuple (…)")
	}
	shape := []int{}
	for {
		p.space()
		if p.eat(')') {
			return shape, nil
		}
		j := p.i
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		if j == p.i || j-p.i > 10 {
			return nil, fmt.Errorf("want a dimension at %q", p.s[p.i:])
		}
		d, err := strconv.Atoi(p.s[p.i:j])
		if err != nil || d > math.MaxInt32 {
			return nil, fmt.Errorf("dimension %q", p.s[p.i:j])
		}
		p.i = j
		shape = append(shape, d)
		if len(shape) > MaxNPYRank {
			return nil, fmt.Errorf("rank above %d", MaxNPYRank)
		}
		p.space()
		if p.eat(',') {
			continue
		}
		p.space()
		if !p.eat(')') {
			return nil, errors.New("want , or ) in the tuple")
		}
		if len(shape) == 1 {
			return nil, errors.New("a one-element tuple needs a trailing comma, like (3,)")
		}
		return shape, nil
	}
}

// ParseRaw reads little-endian float32 values with nothing around them.
func ParseRaw(b []byte) ([]float32, error) {
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("%d bytes: not a whole number of float32 values", len(b))
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}

// Split cuts a file's values into inputs of shape input (batch first):
// the file holds k whole inputs, k from 1 to MaxSamples. shape is the
// file's own shape (nil for a raw file); its trailing dimensions must be
// the input's per-sample dimensions. Every value must be finite.
func Split(shape []int, data []float32, input []int) ([]*Tensor, error) {
	if len(input) == 0 {
		return nil, errors.New("no input shape")
	}
	per := 1
	for _, d := range input {
		per *= d
	}
	sample := input[1:]
	if shape != nil {
		switch {
		case len(shape) == len(sample) && equalInts(shape, sample):
		case len(shape) == len(sample)+1 && equalInts(shape[1:], sample):
		default:
			return nil, fmt.Errorf("array shape %v: want (N, %s) or (%s) — the model's input is %v", shape, joinInts(sample), joinInts(sample), input)
		}
	}
	if per == 0 || len(data) == 0 || len(data)%per != 0 {
		return nil, fmt.Errorf("%d values: want a whole number of inputs of %v (%d values each)", len(data), input, per)
	}
	k := len(data) / per
	if k > MaxSamples {
		return nil, fmt.Errorf("%d inputs: at most %d calibration inputs", k, MaxSamples)
	}
	for i, v := range data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("value %d is %v: want finite values", i, v)
		}
	}
	out := make([]*Tensor, k)
	for i := range out {
		out[i] = &Tensor{Shape: append([]int(nil), input...), Data: data[i*per : (i+1)*per]}
	}
	return out, nil
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}

// ReadInputs reads calibration inputs of shape input from path: a .npy
// float32 array (recognised by its magic) or raw little-endian float32
// values. Errors name the file.
func ReadInputs(path string, input []int) ([]*Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("calibration file: %w", err)
	}
	defer f.Close()
	per := int64(4)
	for _, d := range input {
		per *= int64(d)
	}
	limit := per*MaxSamples + 1<<16 // the data plus a generous .npy header
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("calibration file %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("calibration file %s: larger than %d inputs of %v; use at most %d", path, MaxSamples, input, MaxSamples)
	}
	var shape []int
	var data []float32
	if bytes.HasPrefix(b, []byte(npyMagic)) {
		shape, data, err = ParseNPY(b)
	} else {
		data, err = ParseRaw(b)
	}
	if err != nil {
		return nil, fmt.Errorf("calibration file %s: %w", path, err)
	}
	ins, err := Split(shape, data, input)
	if err != nil {
		return nil, fmt.Errorf("calibration file %s: %w", path, err)
	}
	return ins, nil
}
