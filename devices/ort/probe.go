package ort

import (
	"fmt"

	"blockprof/model"
)

// ProbeArch names the probe network: the smallest network of ofa-mbv3-w1.0
// (every unit at depth 2, every block MBConv3-3) at resolution 224, defined
// here so that it is the same whatever space a run profiles.
const ProbeArch = "probe:224 (ofa-mbv3-w1.0 min arch)"

// probeSpace is ofa-mbv3-w1.0 (config.toml) with one choice per unit.
const probeSpace = `[spaces.probe]
description = "the speed probe timed beside every arch (Protocol.ProbeEvery)"
family = "mbconv"
width_mult = 1.0
resolutions = [224]
resolution = 224
classes = 1000
[spaces.probe.stem]
width = 16
stride = 2
act = "h_swish"
first_block = 16
first_block_act = "relu"
[[spaces.probe.units]]
width = 24
stride = 2
act = "relu"
se = false
depths = [2]
kernels = [3]
expands = [3]
[[spaces.probe.units]]
width = 40
stride = 2
act = "relu"
se = true
depths = [2]
kernels = [3]
expands = [3]
[[spaces.probe.units]]
width = 80
stride = 2
act = "h_swish"
se = false
depths = [2]
kernels = [3]
expands = [3]
[[spaces.probe.units]]
width = 112
stride = 1
act = "h_swish"
se = true
depths = [2]
kernels = [3]
expands = [3]
[[spaces.probe.units]]
width = 160
stride = 2
act = "h_swish"
se = true
depths = [2]
kernels = [3]
expands = [3]
[[spaces.probe.head]]
kind = "conv"
width = 960
bn = true
act = "h_swish"
[[spaces.probe.head]]
kind = "gap"
[[spaces.probe.head]]
kind = "conv"
width = 1280
bn = false
bias = false
act = "h_swish"
[[spaces.probe.head]]
kind = "linear"
width = 1000
`

// ProbeNetwork is the probe network.
func ProbeNetwork() (*model.Network, error) {
	spaces, err := model.ParseSpaces([]byte(probeSpace), "devices/ort probe")
	if err != nil {
		return nil, fmt.Errorf("probe network: %w", err)
	}
	sp, err := spaces.Get("probe")
	if err != nil {
		return nil, fmt.Errorf("probe network: %w", err)
	}
	net, err := sp.Network(sp.MinArch(224))
	if err != nil {
		return nil, fmt.Errorf("probe network: %w", err)
	}
	net.Arch = ProbeArch
	return net, nil
}
