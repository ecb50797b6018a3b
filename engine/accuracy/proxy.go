package accuracy

import (
	"context"
	"fmt"
	"math"

	"blockprof/model"
)

// ProxyLabel is the label of proxy values.
const ProxyLabel = "proxy"

// Proxy coefficients: an ordinary least-squares fit of ImageNet top-1 on
// ln(MACs/10⁶), ln(params/10⁶) and the number of body layers over the
// 1,442 archs of the training split of ofa-mbv3-w1.0-imagenet-top1.jsonl
// (OFA-MobileNetV3 w1.0 at 224; MAE 0.30 points, Spearman 0.986 on that
// split). Within that space the score ranks archs about as well as their
// capacity does; elsewhere only its ordering means anything, and never its
// value as an accuracy.
const (
	proxyBase   = 61.02
	proxyMACs   = 1.549
	proxyParams = 2.329
	proxyLayers = 0.1415
)

// ProxyScore is the training-free proxy of a network:
//
//	61.02 + 1.549·ln(MACs/10⁶) + 2.329·ln(params/10⁶) + 0.1415·layers
//
// where layers counts the active body layers (blocks). It is deterministic,
// costs one network expansion, and grows with capacity and depth, which is
// what accuracy mostly follows within a weight-sharing space. It is a
// proxy: never show it as an accuracy.
func ProxyScore(net *model.Network) float64 {
	layers := 0
	for _, l := range net.Layers {
		if l.Unit > 0 {
			layers++
		}
	}
	return proxyBase + proxyMACs*math.Log(float64(net.MACs())/1e6) +
		proxyParams*math.Log(float64(net.Params())/1e6) + proxyLayers*float64(layers)
}

// ProxySource is the default source: ProxyScore of the arch's network.
type ProxySource struct{ sp *model.Space }

// NewProxy returns the proxy source of a space.
func NewProxy(sp *model.Space) *ProxySource { return &ProxySource{sp: sp} }

// Top1 returns the proxy score (Provenance Proxy; Value.Field is
// "proxy_score").
func (p *ProxySource) Top1(ctx context.Context, a model.Arch) (Value, error) {
	net, err := p.sp.Network(a)
	if err != nil {
		return Value{}, fmt.Errorf("proxy score: %w", err)
	}
	return Value{Top1: ProxyScore(net), Provenance: Proxy, Label: ProxyLabel, Source: "proxy:macs-params-layers"}, nil
}
