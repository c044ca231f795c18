package ecssim

import (
	"strings"

	"github.com/reimage-dev/reimage/providers/sim"
)

// Private addresses as ECS shows them: under addresses[<vpc_id>] as a fixed
// IPv4 marked primary.

// simVPC is the one network every simulated server is in.
const simVPC = "3f1e0d2c-5a4b-4c6d-8e7f-000000000001"

// ecsAddress is one address of an ECS server's addresses, as Huawei shows it.
type ecsAddress struct {
	Addr    string `json:"addr"`
	Version string `json:"version"`
	Type    string `json:"OS-EXT-IPS:type"`
	MAC     string `json:"OS-EXT-IPS-MAC:mac_addr"`
	Primary bool   `json:"primary"`
}

// addressesOf puts the server's address under its VPC id, the key that
// metadata vpc_id names.
func addressesOf(in *sim.Inst) ecsAddresses {
	h := strings.ReplaceAll(in.ID, "-", "") + "000000"
	mac := "fa:16:3e:" + h[0:2] + ":" + h[2:4] + ":" + h[4:6]
	return ecsAddresses{simVPC: {{Addr: in.IP, Version: "4", Type: "fixed", MAC: mac, Primary: true}}}
}
