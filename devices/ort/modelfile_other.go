//go:build !linux

package ort

import "os"

// unnamedFile is not available here: models go to named temporary files.
func unnamedFile(string) (*os.File, string, bool) { return nil, "", false }
