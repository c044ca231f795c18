package kecsim

import (
	"github.com/reimage-dev/reimage/providers/sim"
)

// Private addresses as KEC shows them: the primary interface's address at
// the top level and in NetworkInterfaceSet.

// kecNetworkInterface is one entry of DescribeInstances' NetworkInterfaceSet.
type kecNetworkInterface struct {
	NetworkInterfaceID   string `json:"NetworkInterfaceId"`
	NetworkInterfaceType string `json:"NetworkInterfaceType"`
	VpcID                string `json:"VpcId"`
	SubnetID             string `json:"SubnetId"`
	PrivateIPAddress     string `json:"PrivateIpAddress"`
}

// simVPC and simSubnet are the one network every simulated instance is in.
const (
	simVPC    = "3f1e0d2c-5a4b-4c6d-8e7f-000000000001"
	simSubnet = "3f1e0d2c-5a4b-4c6d-8e7f-000000000002"
)

func kecInterfaces(in *sim.Inst) []kecNetworkInterface {
	return []kecNetworkInterface{{
		NetworkInterfaceID: "eni-" + in.ID[:min(8, len(in.ID))], NetworkInterfaceType: "primary",
		VpcID: simVPC, SubnetID: simSubnet, PrivateIPAddress: in.IP,
	}}
}

func appendKECInterfaces(b []byte, set []kecNetworkInterface) []byte {
	if set == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, ni := range set {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"NetworkInterfaceId":`...)
		b = appendString(b, ni.NetworkInterfaceID)
		b = append(b, `,"NetworkInterfaceType":`...)
		b = appendString(b, ni.NetworkInterfaceType)
		b = append(b, `,"VpcId":`...)
		b = appendString(b, ni.VpcID)
		b = append(b, `,"SubnetId":`...)
		b = appendString(b, ni.SubnetID)
		b = append(b, `,"PrivateIpAddress":`...)
		b = appendString(b, ni.PrivateIPAddress)
		b = append(b, '}')
	}
	return append(b, ']')
}
