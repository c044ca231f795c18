package ksyun

// networkInterfaceJSON is one entry of DescribeInstances' NetworkInterfaceSet.
type networkInterfaceJSON struct {
	NetworkInterfaceID   string `json:"NetworkInterfaceId"`
	NetworkInterfaceType string
	PrivateIPAddress     string `json:"PrivateIpAddress"`
}

// privateIP is the primary network interface's private address (the rule of
// Kingsoft's Terraform provider); the top-level PrivateIpAddress, which KEC
// documents as that same interface's address repeated, when the set has no
// primary interface.
func (in instanceJSON) privateIP() string {
	for _, ni := range in.NetworkInterfaceSet {
		if ni.NetworkInterfaceType == "primary" && ni.PrivateIPAddress != "" {
			return ni.PrivateIPAddress
		}
	}
	return in.PrivateIPAddress
}
