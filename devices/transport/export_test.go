package transport

// Exported for the external tests (ssh_test.go), which use sshtest, which
// imports this package.
var (
	Conformance = conformance
	CanaryDir   = canaryDir
	CheckCanary = checkCanary
	Hostile     = hostile
	SplitNUL    = splitNUL
)
