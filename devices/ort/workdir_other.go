//go:build !unix

package ort

import "io/fs"

// processAlive cannot tell here: every work directory is taken as alive,
// so none is removed but the device's own.
func processAlive(int) bool { return true }

// ownedByMe cannot tell here: no directory is taken as this user's.
func ownedByMe(fs.FileInfo) bool { return false }
