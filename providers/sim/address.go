package sim

import "strings"

// Private addresses as each cloud shows them: KEC repeats the primary
// interface's address at the top level and lists it in NetworkInterfaceSet;
// ECS lists it under addresses[<vpc_id>] as a fixed IPv4 marked primary.

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

func (in *Inst) kecInterfaces() []kecNetworkInterface {
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

// ecsAddress is one address of an ECS server's addresses, as Huawei shows it.
type ecsAddress struct {
	Addr    string `json:"addr"`
	Version string `json:"version"`
	Type    string `json:"OS-EXT-IPS:type"`
	MAC     string `json:"OS-EXT-IPS-MAC:mac_addr"`
	Primary bool   `json:"primary"`
}

// ecsAddresses puts the server's address under its VPC id, the key that
// metadata vpc_id names.
func (in *Inst) ecsAddresses() ecsAddresses {
	h := strings.ReplaceAll(in.ID, "-", "") + "000000"
	mac := "fa:16:3e:" + h[0:2] + ":" + h[2:4] + ":" + h[4:6]
	return ecsAddresses{simVPC: {{Addr: in.IP, Version: "4", Type: "fixed", MAC: mac, Primary: true}}}
}
